#pragma once
/// @file
/// What the training loop tells a person while it runs. On a terminal: one live line, rewritten
/// at most five times a second (iteration, loss terms, learning rate, train accuracy, images per
/// second, data time, ETA). Elsewhere (a file, a pipe, a cluster's log): a plain line every
/// `every` iterations, so logs stay readable and greppable.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace smile {

enum class progress_style {
    automatic,  ///< a live bar when standard error is a terminal, else plain lines
    bar,
    lines,
};

/// What one finished step contributes to the progress display.
struct step_progress {
    std::int64_t iteration = 0;  ///< 1-based: steps done
    double loss = 0.0;
    const std::vector<std::pair<std::string, double>>* terms = nullptr;
    double lr = 0.0;
    std::int64_t images = 0;         ///< images in the step's batch
    std::int64_t train_correct = 0;  ///< of which the student's prediction matched the batch label
    double step_seconds = 0.0;       ///< the whole step, data wait included
    double data_seconds = 0.0;       ///< time spent waiting for the batch
};

class progress_printer {
public:
    /// `unit`: what a batch holds, for the throughput ("img" for images, "sent" for sentences).
    progress_printer(std::string label, std::int64_t total, std::int64_t every,
                     progress_style style, std::string unit = "img")
        : label_(std::move(label)), unit_(std::move(unit)), total_(total), every_(every) {
        bar_ = every_ > 0 && (style == progress_style::bar ||
                              (style == progress_style::automatic && ::isatty(2) != 0));
    }
    progress_printer(const progress_printer&) = delete;
    progress_printer& operator=(const progress_printer&) = delete;
    ~progress_printer() { end_line(); }

    /// A data-parallel run of `ranks` processes: lines show the world size and the throughput per
    /// rank; only the printing rank (`speaks`) writes anything.
    void set_world(int ranks, bool speaks) {
        ranks_ = std::max(ranks, 1);
        if (!speaks) every_ = 0, silent_ = true;
    }

    /// Accounts for one step and prints when due. `elapsed` is the run's training time so far
    /// and `done` the steps it covers (for the ETA).
    void step(const step_progress& p, double elapsed, std::int64_t done) {
        window_images_ += p.images;
        window_correct_ += p.train_correct;
        window_seconds_ += p.step_seconds;
        window_data_ += p.data_seconds;
        window_steps_ += 1;
        if (every_ <= 0) return;
        const bool last = p.iteration == total_;
        const auto now = std::chrono::steady_clock::now();
        if (bar_) {
            if (!last && now - last_draw_ < std::chrono::milliseconds(200)) return;
            last_draw_ = now;
            std::fprintf(stderr, "\r%s%s\x1b[K", label_.c_str(),
                         line(p, elapsed, done, true).c_str());
            open_line_ = true;
            if (last) end_line();
            if (p.iteration % every_ == 0 || last) reset_window();
            return;
        }
        if (p.iteration % every_ != 0 && !last) return;
        std::fprintf(stderr, "%s%s\n", label_.c_str(), line(p, elapsed, done, false).c_str());
        reset_window();
    }

    /// Prints a line of its own (an evaluation, a warning) without breaking the live bar.
    template <class... Args>
    void message(const char* format, Args... args) {
        if (silent_) return;
        end_line();
        std::fprintf(stderr, "%s", label_.c_str());
        std::fprintf(stderr, format, args...);
        std::fputc('\n', stderr);
    }

    [[nodiscard]] bool live() const { return bar_; }

private:
    [[nodiscard]] std::string line(const step_progress& p, double elapsed, std::int64_t done,
                                   bool compact) const {
        char buffer[512];
        std::string out;
        const double eta = done > 0 ? elapsed / double(done) * double(total_ - p.iteration) : 0.0;
        if (compact) {
            const int width = 20;
            const int filled = int(double(width) * double(p.iteration) / double(total_));
            out += "[" + std::string(std::size_t(filled), '#') +
                   std::string(std::size_t(width - filled), '.') + "] ";
        }
        std::snprintf(buffer, sizeof buffer, "iter %lld/%lld loss %.4f",
                      static_cast<long long>(p.iteration), static_cast<long long>(total_), p.loss);
        out += buffer;
        if (p.terms != nullptr)
            for (const auto& [term, value] : *p.terms) {
                std::snprintf(buffer, sizeof buffer, " %s=%.4g", term.c_str(), value);
                out += buffer;
            }
        const double seconds = window_seconds_ > 0 ? window_seconds_ : 1e-9;
        std::snprintf(
            buffer, sizeof buffer,
            " lr %.4g | train top-1 %.1f%% | %.1f %s/s, %.3f s/step (data %.3f) | ETA %s", p.lr,
            window_images_ > 0 ? 100.0 * double(window_correct_) / double(window_images_) : 0.0,
            double(window_images_) / seconds, unit_.c_str(),
            window_seconds_ / double(std::max<std::int64_t>(window_steps_, 1)),
            window_data_ / double(std::max<std::int64_t>(window_steps_, 1)),
            clock_text(eta).c_str());
        out += buffer;
        if (ranks_ > 1) {
            std::snprintf(buffer, sizeof buffer, " | %d ranks, %.1f %s/s per rank", ranks_,
                          double(window_images_) / seconds / double(ranks_), unit_.c_str());
            out += buffer;
        }
        return out;
    }

    static std::string clock_text(double seconds) {
        const auto s = static_cast<long long>(seconds + 0.5);
        char buffer[64];
        if (s >= 3600)
            std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60,
                          s % 60);
        else
            std::snprintf(buffer, sizeof buffer, "%lld:%02lld", s / 60, s % 60);
        return buffer;
    }

    void reset_window() {
        window_images_ = window_correct_ = window_steps_ = 0;
        window_seconds_ = window_data_ = 0.0;
    }

    void end_line() {
        if (!open_line_) return;
        std::fputc('\n', stderr);
        open_line_ = false;
    }

    std::string label_;
    std::string unit_;
    std::int64_t total_;
    std::int64_t every_;
    bool bar_ = false;
    bool open_line_ = false;
    int ranks_ = 1;
    bool silent_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
    std::int64_t window_images_ = 0, window_correct_ = 0, window_steps_ = 0;
    double window_seconds_ = 0.0, window_data_ = 0.0;
};

}  // namespace smile
