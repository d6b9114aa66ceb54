// The training loop's promises: nothing a run produced is lost to a late failure or a stop
// request, and its log is complete, flushed and typed at every line.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/factory_instances.hpp>
#include <smile/methods/finetune.hpp>
#include <smile/train/trainer.hpp>

#include "backends.hpp"
#include "json_lines.hpp"
#include "tiny_models.hpp"

using D = smile::default_backend;
namespace fs = std::filesystem;

namespace {

/// Plain fine-tuning that can ask to stop after a given step and can look at its log mid-run.
class probed_finetune : public smile::finetune_method<D> {
public:
    using smile::finetune_method<D>::finetune_method;
    std::int64_t stop_after = -1;
    std::function<void(std::int64_t)> on_step;
    smile::step_report step(const smile::data::host_batch& batch, std::int64_t iter) override {
        if (on_step) on_step(iter);
        auto r = smile::finetune_method<D>::step(batch, iter);
        if (iter == stop_after) smile::request_stop();
        return r;
    }
};

struct fixture {
    smile::session<D> s;
    smile::rng gen{7};
    std::shared_ptr<smile::data::dataset> data = smile::test::tiny_target();
    probed_finetune m{s, gen, smile::make_classifier<D>(s, gen, smile::test::tiny_arch(), {3, 0}), smile::sgd_options{0.9f, 0.0f, 1e-4f, true},
                      {smile::schedule_kind::step, 0.05f, 8, 0.1f, {}}};
    fixture() { m.optimizer().attach(m.model()); }
    std::function<std::unique_ptr<smile::data::loader>(std::int64_t)> loader() {
        return [this](std::int64_t start) {
            return std::make_unique<smile::data::loader>(data, data->train, smile::test::tiny_pipeline(),
                                                         smile::data::loader_options{8, true, true, true, 0, 2, 1, false, start});
        };
    }
    std::vector<std::vector<float>> weights() {
        std::vector<std::vector<float>> out;
        for (auto& [n, p] : smile::parameters_of<D>(m.model())) out.push_back(p->value.to_host());
        return out;
    }
};

smile::evaluation scored(double top1) {
    smile::evaluation e;
    e.top1 = top1;
    return e;
}

struct scratch {
    fs::path dir = fs::temp_directory_path() / ("smile_trainer_" + std::to_string(::getpid()));
    scratch() { fs::create_directories(dir); }
    ~scratch() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("trainer: the final checkpoint and outputs are written before the final evaluation, which may fail") {
    scratch tmp;
    fixture f;
    smile::trainer_options o;
    o.iterations = 4;
    o.log_every = 0;
    o.checkpoint_path = (tmp.dir / "sub" / "c.safetensors").string();  // the folder is made up front
    bool saved = false;
    o.save_outputs = [&] { saved = true; };
    auto failing_evaluation = []() -> smile::evaluation {
        smile::detail::fail("test image unreadable");
    };
    CHECK_THROWS_WITH_AS(smile::train<D>(f.m, f.loader(), failing_evaluation, o, f.gen), doctest::Contains("test image unreadable"),
                         smile::error);
    CHECK(saved);
    smile::io::safetensors_reader c(o.checkpoint_path);
    CHECK(c.metadata().at("iteration") == "4");
    // An unwritable checkpoint or log is found before the first step.
    fixture g;
    o.checkpoint_path = "/proc/smile-nowhere/c.safetensors";
    bool stepped = false;
    g.m.on_step = [&](std::int64_t) { stepped = true; };
    CHECK_THROWS_WITH_AS(smile::train<D>(g.m, g.loader(), {}, o, g.gen), doctest::Contains("checkpoint /proc/smile-nowhere"), smile::error);
    o.checkpoint_path.clear();
    o.log_path = "/proc/smile-nowhere/log.jsonl";
    CHECK_THROWS_WITH_AS(smile::train<D>(g.m, g.loader(), {}, o, g.gen), doctest::Contains("log /proc/smile-nowhere"), smile::error);
    CHECK_FALSE(stepped);
}

TEST_CASE("trainer: a stop request finishes the step, checkpoints, and --resume ends where a straight run ends, to the bit") {
    scratch tmp;
    fixture straight;
    smile::trainer_options o;
    o.iterations = 8;
    o.log_every = 0;
    smile::train<D>(straight.m, straight.loader(), {}, o, straight.gen);

    fixture stopped;
    o.checkpoint_path = (tmp.dir / "c.safetensors").string();
    o.log_path = (tmp.dir / "log.jsonl").string();
    o.config = {{"dataset", "synthetic"}, {"lr", 0.05}};
    stopped.m.stop_after = 2;
    std::size_t lines_seen_at_step_2 = 0;
    stopped.m.on_step = [&](std::int64_t k) {
        if (k == 2) lines_seen_at_step_2 = smile::test::read_json_lines(o.log_path).size();
    };
    try {
        smile::train<D>(stopped.m, stopped.loader(), {}, o, stopped.gen);
        FAIL("the run did not stop");
    } catch (const smile::interrupted& e) {
        CHECK(std::string(e.what()).find("after iteration 3 of 8; checkpoint written to " + o.checkpoint_path) != std::string::npos);
        CHECK(e.signal() == 0);
    }
    smile::clear_stop_request();
    CHECK(lines_seen_at_step_2 == 3);  // config + iterations 0 and 1: flushed as they were written
    const auto log = smile::test::read_json_lines(o.log_path);
    REQUIRE(log.size() == 5);
    const auto& config = log[0]["config"];
    CHECK(config["dataset"] == "synthetic");
    CHECK(config["lr"].is_number());
    CHECK(config["momentum"].is_number_float());
    CHECK(config["nesterov"].is_boolean());
    CHECK(config["iterations"] == 8);
    CHECK(log[1]["iter"] == 0);
    CHECK(log[1]["loss"].is_number());
    CHECK(log[4]["interrupted"] == 0);

    fixture resumed;
    o.resume = true;
    resumed.m.on_step = nullptr;
    const auto r = smile::train<D>(resumed.m, resumed.loader(), {}, o, resumed.gen);
    CHECK(r.iterations == 5);
    CHECK(resumed.weights() == straight.weights());
    CHECK(resumed.gen == straight.gen);
    CHECK(smile::test::read_json_lines(o.log_path).back()["iter"] == 7);
}

TEST_CASE("trainer: settings are logged as JSON numbers and booleans, exactly") {
    CHECK(smile::json_setting("1e-07") == 1e-7);
    CHECK(smile::json_setting("12").is_number_integer());
    CHECK(smile::json_setting("true") == true);
    CHECK(smile::json_setting("frobenius/hw") == "frobenius/hw");
    CHECK(smile::json_setting("nan") == "nan");
    CHECK(smile::setting_text(1e-7) == "1e-07");
    CHECK(smile::setting_text(0.999) == "0.999");
    CHECK(smile::setting_text(std::int64_t(10)) == "10");
}

TEST_CASE(
    "trainer: settings added after a checkpoint was written count as their implicit value there") {
    const nlohmann::json older{{"lr", 0.01},
                               {"method", "smile"}};  // written before precisions were recorded
    nlohmann::json now = older;
    now["precision"] = "f32";
    now["teacher_precision"] = "f32";
    CHECK(smile::setting_differences(older, now).empty());
    now["precision"] = "bf16";
    CHECK(smile::setting_differences(older, now) ==
          std::vector<std::string>{"precision: absent -> \"bf16\""});
    // Not the other way: a checkpoint that records a precision, resumed by a run without one.
    CHECK(smile::setting_differences(now, older).size() == 2);
}

TEST_CASE(
    "trainer: a resume with other settings is refused naming each, a finished run says so and "
    "evaluates") {
    scratch tmp;
    fixture first;
    smile::trainer_options o;
    o.iterations = 4;
    o.log_every = 0;
    o.checkpoint_path = (tmp.dir / "c.safetensors").string();
    o.config = {{"dataset", "synthetic"}, {"batch_size", 8}, {"workers", 0}};
    smile::train<D>(first.m, first.loader(), {}, o, first.gen);
    o.resume = true;
    bool stepped = false;
    auto evaluation = [] { return scored(0.75); };

    SUBCASE("the same settings: the finished run is evaluated, not trained again") {
        fixture again;
        again.m.on_step = [&](std::int64_t) { stepped = true; };
        const auto r = smile::train<D>(again.m, again.loader(), evaluation, o, again.gen);
        CHECK_FALSE(stepped);
        CHECK(r.iterations == 0);
        REQUIRE(r.evaluations.size() == 1);
        CHECK(r.evaluations[0] == std::pair<std::int64_t, double>{4, 0.75});
        CHECK(r.final_top1 == 0.75);
        CHECK(again.weights() == first.weights());
    }
    SUBCASE("where output goes and how often may change") {
        o.config["workers"] = 3;
        o.checkpoint_every = 2;
        fixture again;
        CHECK_NOTHROW(smile::train<D>(again.m, again.loader(), evaluation, o, again.gen));
    }
    SUBCASE("another batch size, data set or length is refused, naming each difference") {
        o.config["batch_size"] = 16;
        o.config["dataset"] = "mnist";
        fixture again;
        again.m.on_step = [&](std::int64_t) { stepped = true; };
        CHECK_THROWS_WITH_AS(
            smile::train<D>(again.m, again.loader(), {}, o, again.gen),
            doctest::Contains((o.checkpoint_path +
                               ": written by a run with other settings (batch_size: 8 -> "
                               "16; dataset: \"synthetic\" -> \"mnist\"); resume with the "
                               "same settings, or --force-resume")
                                  .c_str()),
            smile::error);
        o.config["batch_size"] = 8;
        o.config["dataset"] = "synthetic";
        o.iterations = 6;
        CHECK_THROWS_WITH_AS(smile::train<D>(again.m, again.loader(), {}, o, again.gen),
                             doctest::Contains("iterations: 4 -> 6"), smile::error);
        CHECK_FALSE(stepped);
        // --force-resume continues from the checkpoint with the new settings.
        o.force_resume = true;
        fixture forced;
        const auto r = smile::train<D>(forced.m, forced.loader(), {}, o, forced.gen);
        CHECK(r.iterations == 2);
    }
    SUBCASE("--resume without a checkpoint path is an error, before anything runs") {
        o.checkpoint_path.clear();
        fixture again;
        again.m.on_step = [&](std::int64_t) { stepped = true; };
        CHECK_THROWS_WITH_AS(smile::train<D>(again.m, again.loader(), {}, o, again.gen),
                             doctest::Contains("--resume needs --checkpoint"), smile::error);
        CHECK_FALSE(stepped);
    }
}

TEST_CASE(
    "evaluation: top-1, top-5, per-class counts and the confusion matrix of hand-made logits") {
    smile::evaluation e;
    e.class_images.assign(6, 0);
    e.class_correct.assign(6, 0);
    e.confusion.assign(36, 0);
    // Label 2 scores highest: top-1 and top-5.
    const float a[6] = {0.1f, 0.2f, 0.9f, 0.3f, 0.0f, -1.0f};
    smile::count_prediction(e, a, 6, 2);
    // Label 5 is the lowest of six: in neither.
    const float b[6] = {0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
    smile::count_prediction(e, b, 6, 5);
    // Label 4 is fifth (four strictly higher): top-5, not top-1; predicted 0.
    const float c[6] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
    smile::count_prediction(e, c, 6, 4);
    // A tie: label 3 equals class 1's score; class 1 comes first, so 3 is ranked after it: with
    // classes 0, 1, 2 higher or earlier it is fourth: top-5, and not top-1.
    const float d[6] = {0.9f, 0.5f, 0.6f, 0.5f, 0.0f, 0.0f};
    smile::count_prediction(e, d, 6, 3);
    CHECK(e.images == 4);
    CHECK(e.correct == 1);
    CHECK(e.correct_top5 == 3);
    CHECK(e.class_images == std::vector<std::int64_t>{0, 0, 1, 1, 1, 1});
    CHECK(e.class_correct == std::vector<std::int64_t>{0, 0, 1, 0, 0, 0});
    CHECK(e.confusion[2 * 6 + 2] == 1);
    CHECK(e.confusion[5 * 6 + 0] == 1);
    CHECK(e.confusion[4 * 6 + 0] == 1);
    CHECK(e.confusion[3 * 6 + 0] == 1);
    CHECK(e.mean_class_accuracy() ==
          doctest::Approx(0.25));  // four classes present, one of them right
    // Labels 5 with six classes and two strictly higher ties ahead: 0.5 ties at classes 0..4.
    smile::evaluation t;
    t.class_images.assign(6, 0);
    t.class_correct.assign(6, 0);
    const float tie[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    smile::count_prediction(t, tie, 6, 5);  // five equal scores come first: not top-5
    smile::count_prediction(t, tie, 6, 4);  // four come first: top-5
    CHECK(t.correct_top5 == 1);
}

TEST_CASE(
    "trainer: the best evaluation's checkpoint is kept, early stopping ends the run, and a resume "
    "of it trains no further") {
    scratch tmp;
    // Evaluations every 2 iterations of a 12-iteration run: 0.5, 0.8 (best, iteration 4), 0.7,
    // 0.6: with patience 2 the run stops after iteration 8.
    const std::vector<double> scores{0.5, 0.8, 0.7, 0.6, 0.9, 0.9};
    std::size_t next = 0;
    auto evaluate = [&] { return scored(scores.at(next++)); };
    smile::trainer_options o;
    o.iterations = 12;
    o.log_every = 0;
    o.eval_every = 2;
    o.patience = 2;
    o.eval_split = "validation";
    o.checkpoint_path = (tmp.dir / "last.safetensors").string();
    o.best_checkpoint_path = (tmp.dir / "best.safetensors").string();
    o.log_path = (tmp.dir / "log.jsonl").string();
    std::vector<std::vector<float>> weights_at_best;
    int best_saves = 0, final_saves = 0;
    fixture f;
    o.save_best_outputs = [&] {
        ++best_saves;
        weights_at_best = f.weights();
    };
    o.save_outputs = [&] { ++final_saves; };
    const auto r = smile::train<D>(f.m, f.loader(), evaluate, o, f.gen);
    CHECK(r.stopped_early_at == 8);
    CHECK(r.iterations == 8);
    CHECK(r.best_top1 == 0.8);
    CHECK(r.best_iteration == 4);
    CHECK(r.final_top1 == 0.6);
    CHECK(best_saves == 2);   // after iterations 2 and 4
    CHECK(final_saves == 1);  // at the early stop
    CHECK(next == 4);
    // The best checkpoint is the state after iteration 4, not the last one's.
    smile::io::safetensors_reader best(o.best_checkpoint_path), last(o.checkpoint_path);
    CHECK(best.metadata().at("iteration") == "4");
    CHECK(last.metadata().at("iteration") == "8");
    CHECK(last.metadata().at("info.stopped_early") == "8");
    CHECK(weights_at_best != f.weights());
    {
        fixture loaded;
        smile::io::checkpoint_content<D> c;
        loaded.m.add_state(c);
        smile::rng scratch_gen(0);
        c.load(loaded.s, o.best_checkpoint_path, scratch_gen);
        CHECK(loaded.weights() == weights_at_best);
    }
    const auto log = smile::test::read_json_lines(o.log_path);
    int evaluations = 0;
    for (const auto& line : log)
        if (line.contains("eval_top1")) {
            ++evaluations;
            CHECK(line["eval_split"] == "validation");
            CHECK(line["best"] == (line["eval_top1"] == 0.5 || line["eval_top1"] == 0.8));
        }
    CHECK(evaluations == 4);
    CHECK(log.back()["early_stop"] == 8);
    CHECK(log.back()["best_iteration"] == 4);
    // Each iteration's line carries the training accuracy of its batch and the time it waited.
    CHECK(log[1]["train_top1"].get<double>() >= 0.0);
    CHECK(log[1]["train_top1"].get<double>() <= 1.0);
    CHECK(log[1]["data_seconds"].get<double>() >= 0.0);

    // Resumed, the early-stopped run trains nothing and keeps its best (a worse evaluation
    // does not replace the best checkpoint).
    o.resume = true;
    fixture again;
    bool stepped = false;
    again.m.on_step = [&](std::int64_t) { stepped = true; };
    next = 3;  // 0.6
    best_saves = 0;
    const auto resumed = smile::train<D>(again.m, again.loader(), evaluate, o, again.gen);
    CHECK_FALSE(stepped);
    CHECK(resumed.stopped_early_at == 8);
    CHECK(resumed.best_top1 == 0.8);
    CHECK(resumed.best_iteration == 4);
    CHECK(best_saves == 0);
    CHECK(smile::io::safetensors_reader(o.best_checkpoint_path).metadata().at("iteration") == "4");
}
