// smile split: writes the training subsets of a dataset at several sampling rates as list
// files ("relative/path label"), derived from the dataset's own metadata and a seed, and
// prints the per-class counts.
#include <cstdio>
#include <sstream>

#include <smile/data/sampling.hpp>

#include "smile/commands.hpp"
#include "smile/dataset_options.hpp"
#include "smile/validators.hpp"

namespace smile::cli {

command add_split(CLI::App& app) {
    struct options {
        dataset_options data;
        std::vector<double> rates{15, 30, 50, 100};
        std::uint64_t seed = 0;
        std::string protocol = "per-class";
        bool nested = false;
        double validation = 0.0;
        std::string out;
    };
    auto o = std::make_shared<options>();
    auto* sub = app.add_subcommand("split", "write training subsets at sampling rates as list files");
    o->data.add_to(*sub);
    sub->add_option("--rates", o->rates, "sampling rates in percent")->delimiter(',')->capture_default_str()
        ->check(number_in(0, 100, ends::open_low));
    sub->add_option("--seed", o->seed, "seed of the sampling")->capture_default_str()->check(integer_in(0, 1.8e19));
    sub->add_option("--protocol", o->protocol, "per-class (ceil(r*n_c) per class) or global (first 1+int(r*N))")
        ->check(CLI::IsMember({"per-class", "global"}))->capture_default_str();
    sub->add_flag("--nested", o->nested, "nested subsets: a lower rate is a subset of every higher one");
    sub->add_option("--validation", o->validation, "hold out this fraction of each class of every subset as validation_<rate>.txt")
        ->check(number_in(0, 0.9));
    sub->add_option("--out", o->out, "output directory")->required();
    return [o] {
        const auto d = o->data.read_dataset();
        std::filesystem::create_directories(o->out);
        const std::filesystem::path out = o->out;
        data::sampling_options sampling;
        sampling.protocol = data::parse_protocol(o->protocol);
        sampling.nested = o->nested;
        data::write_list(out / "test.txt", d.test);
        {
            std::string names;
            for (const auto& c : d.classes) names += c + "\n";
            io::write_file_atomically(out / "classes.txt", names);
        }
        std::printf("%s: %zu classes, %zu training and %zu test images\n", d.format.c_str(), d.classes.size(),
                    d.train.size(), d.test.size());
        std::vector<std::vector<std::int64_t>> counts;
        for (double rate : o->rates) {
            if (!(rate > 0 && rate <= 100)) detail::fail("--rates: ", rate, " is not in (0, 100]");
            auto subset = data::sample_subset(d.train, d.num_classes(), rate / 100.0, o->seed, sampling);
            std::ostringstream name;
            name << rate;
            if (o->validation > 0) {
                auto [train, validation] = data::split_validation(subset, d.num_classes(), o->validation, o->seed);
                data::write_list(out / ("validation_" + name.str() + ".txt"), validation);
                subset = std::move(train);
            }
            data::write_list(out / ("train_" + name.str() + ".txt"), subset);
            counts.push_back(data::class_counts(subset, d.num_classes()));
            std::printf("rate %5s%%: %6zu images -> %s\n", name.str().c_str(), subset.size(),
                        (out / ("train_" + name.str() + ".txt")).c_str());
        }
        std::printf("\nimages per class:\n%-32s", "class");
        for (double rate : o->rates) std::printf(" %6g%%", rate);
        std::printf("\n");
        for (std::size_t c = 0; c < d.classes.size(); ++c) {
            std::printf("%-32.32s", d.classes[c].c_str());
            for (const auto& per_rate : counts) std::printf(" %7lld", static_cast<long long>(per_rate[c]));
            std::printf("\n");
        }
    };
}

}  // namespace smile::cli
