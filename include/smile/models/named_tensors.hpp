#pragma once
/// @file
/// A model's state as a list of named tensors (PyTorch's state_dict): parameters and buffers
/// with their dotted names and the rank the same tensor has in PyTorch.

#include <string>
#include <vector>

#include <smile/core/parameter.hpp>

namespace smile {

template <Backend B>
struct named_tensor {
    std::string name;
    tensor<B>* value = nullptr;
    parameter<B>* param = nullptr;  ///< null for buffers
    int torch_rank = 1;
};

/// Parameters then buffers, each in the model's visiting order.
template <Backend B, class Model>
std::vector<named_tensor<B>> state_of(Model& model) {
    std::vector<named_tensor<B>> out;
    model.visit_parameters("", [&](const std::string& name, parameter<B>& p) {
        out.push_back({name, &p.value, &p, p.torch_rank});
    });
    model.visit_buffers("", [&](const std::string& name, tensor<B>& t) { out.push_back({name, &t, nullptr, 1}); });
    return out;
}

/// The parameters of a model with their names, in visiting order.
template <Backend B, class Model>
std::vector<std::pair<std::string, parameter<B>*>> parameters_of(Model& model) {
    std::vector<std::pair<std::string, parameter<B>*>> out;
    model.visit_parameters("", [&](const std::string& name, parameter<B>& p) { out.emplace_back(name, &p); });
    return out;
}

/// The parameter called `name` ("conv1.weight", "features.0.0.weight"); throws naming it when
/// the model has none.
template <Backend B, class Model>
parameter<B>& find_parameter(Model& model, const std::string& name) {
    parameter<B>* found = nullptr;
    model.visit_parameters("", [&](const std::string& n, parameter<B>& p) {
        if (n == name) found = &p;
    });
    if (found == nullptr) detail::fail("the model has no parameter named '", name, "'");
    return *found;
}

/// Number of trained scalars.
template <Backend B, class Model>
std::size_t parameter_count(Model& model) {
    std::size_t n = 0;
    model.visit_parameters("", [&](const std::string&, parameter<B>& p) { n += p.value.size(); });
    return n;
}

/// The PyTorch shape of a tensor of logical shape `s` and PyTorch rank `rank`.
[[nodiscard]] inline std::vector<std::int64_t> torch_shape(const shape4& s, int rank) {
    switch (rank) {
        case 1: return {static_cast<std::int64_t>(s.size())};
        case 2: return {s.n, s.c * s.h * s.w};
        default: return {s.n, s.c, s.h, s.w};
    }
}

/// Shapes compared as PyTorch would see them, ignoring trailing unit dimensions.
[[nodiscard]] inline bool same_torch_shape(std::vector<std::int64_t> a, std::vector<std::int64_t> b) {
    while (!a.empty() && a.back() == 1) a.pop_back();
    while (!b.empty() && b.back() == 1) b.pop_back();
    return a == b;
}

[[nodiscard]] inline std::string shape_string(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i > 0) out.append(",");
        out.append(std::to_string(s[i]));
    }
    return out.append("]");
}

}  // namespace smile
