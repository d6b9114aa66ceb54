#pragma once
/// @file
/// `weight_naming`: another library's names for a family's tensors. smile's own names are
/// torchvision's (the canonical naming); a family whose weights also circulate under other names
/// (EfficientNet: efficientnet_pytorch, timm) lists those namings, and the loader picks the one
/// a file uses by a tensor only that naming has, and says which it found (load_report::naming).

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace smile {

struct weight_naming {
    std::string name;    ///< "efficientnet_pytorch", "timm"
    std::string marker;  ///< a tensor every file of this naming holds and no other naming does
    /// Its names for the target classifier, preferred first: a file's head is the first it holds
    /// ("_fc", or "fc" as the SMILE authors renamed it; "classifier").
    std::vector<std::string> heads;
    /// A canonical backbone name → this naming's name (unknown names come back unchanged).
    std::function<std::string(const std::string&)> rename;
};

/// The head of `n` in a file: the first of its heads `contains` says the file holds, else the
/// preferred one.
template <class Contains>
[[nodiscard]] std::string head_of(const weight_naming& n, Contains&& contains) {
    for (const auto& h : n.heads)
        if (contains(h + ".weight")) return h;
    return n.heads.front();
}

/// The name the loader reports for the canonical naming.
inline constexpr const char* canonical_naming = "torchvision";

/// The naming among `namings` whose marker `contains` says the file holds; nullopt: canonical.
template <class Contains>
[[nodiscard]] std::optional<weight_naming> detect_naming(const std::vector<weight_naming>& namings,
                                                         Contains&& contains) {
    for (const auto& n : namings)
        if (contains(n.marker)) return n;
    return std::nullopt;
}

}  // namespace smile
