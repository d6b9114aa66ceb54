// smile: transfer learning with SMILE and its baselines, from the command line.
//
//   smile predict  ...   logits (and pooled features) of a float32 NCHW batch
//   smile split    ...   training subsets at sampling rates, as list files
//   smile pretrain ...   a source network from scratch (default ResNet-20 on MNIST)
//   smile finetune ...   fine-tuning with SMILE or a baseline, in a run folder
//   smile evaluate ...   top-1, top-5, per-class accuracy and confusion matrix of a network
//   smile compare  ...   the main job: methods x datasets x seeds, a Table-1-style comparison
//   smile analyze  ...   interpolation loss and feature-interpolation PCA of a trained model
//
// Every error is one line on stderr and a non-zero exit status.
#include <cstdio>
#include <exception>
#include <smile/train/stop_signal.hpp>
#include <smile/version.hpp>

#include "smile/commands.hpp"
#include "smile/config_file.hpp"
#include "smile/world.hpp"

int main(int argc, char** argv) {
    // Under mpirun this process is one rank of a data-parallel job: MPI starts first.
    smile::communicator& ranks = smile::cli::world();
    CLI::App app{"smile " SMILE_VERSION_STRING ": transfer learning with SMILE (self-distilled mixup) and its baselines"};
    app.require_subcommand(1);
    app.set_version_flag("--version", SMILE_VERSION_STRING);
    std::vector<std::pair<CLI::App*, smile::cli::command>> commands;
    auto add = [&](auto&& registrar) {
        const std::size_t before = app.get_subcommands({}).size();
        auto run = registrar(app);
        commands.emplace_back(app.get_subcommands({})[before], std::move(run));
    };
    add(smile::cli::add_predict);
    add(smile::cli::add_split);
    add(smile::cli::add_pretrain);
    add(smile::cli::add_finetune);
    add(smile::cli::add_evaluate);
    add(smile::cli::add_compare);
    add(smile::cli::add_analyze);
    smile::cli::add_config_option(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    smile::install_stop_signals();  // SIGINT/SIGTERM: finish the step, checkpoint, exit non-zero
    try {
        for (auto& [sub, run] : commands) {
            if (!sub->parsed()) continue;
            if (ranks.distributed() && sub->get_name() != "finetune")
                throw smile::error("smile " + sub->get_name() +
                                   " runs as one process; under mpirun only `smile finetune` "
                                   "trains data-parallel (" +
                                   std::to_string(ranks.size()) + " ranks were started)");
            run();
        }
    } catch (const smile::interrupted& e) {
        std::fprintf(stderr, "smile: %s\n", e.what());
        return e.signal() > 0 ? 128 + e.signal() : 1;  // the shell's convention for a signal
    } catch (const std::exception& e) {
        // One rank's error would leave the others waiting in a collective: end the whole job.
        if (ranks.distributed()) ranks.abort(std::string("smile: error: ") + e.what());
        std::fprintf(stderr, "smile: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
