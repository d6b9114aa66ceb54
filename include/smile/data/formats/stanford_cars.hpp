#pragma once
/// @file
/// Stanford Cars in the layout of the official devkit download, read with libmatio:
///   root/cars_train/<fname>.jpg, root/cars_test/<fname>.jpg
///   root/devkit/cars_meta.mat               class_names: 1×196 cell of strings
///   root/devkit/cars_train_annos.mat        annotations: struct array with bbox_x1, bbox_y1,
///                                           bbox_x2, bbox_y2, class (1-based), fname
///   root/cars_test_annos_withlabels.mat     the same for the test images, with class
/// (each .mat is also accepted in root/ or root/devkit/). Boxes are 1-based inclusive pixel
/// coordinates; `crop_to_box` crops to them. 196 classes, 8,144 training and 8,041 test images.

#include <matio.h>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/mat_structure.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

namespace detail_mat {

/// RAII for an open MAT file and a variable read from it.
class mat_file {
public:
    explicit mat_file(const std::filesystem::path& path) : path_(path), mat_(open_checked(path)) {
        if (mat_ == nullptr) detail::fail("cannot open ", path.string(), " as a MAT file");
    }
    ~mat_file() {
        for (auto* v : vars_) Mat_VarFree(v);
        Mat_Close(mat_);
    }
    mat_file(const mat_file&) = delete;
    mat_file& operator=(const mat_file&) = delete;

    matvar_t* read(const char* name) {
        // The header first: matio allocates whatever a variable's dimensions claim, so a crafted
        // file could ask for exabytes (found by fuzz_cars_mat). The devkit's variables hold at
        // most ~16,000 elements.
        matvar_t* info = Mat_VarReadInfo(mat_, name);
        if (info == nullptr) detail::fail(path_.string(), ": no variable '", name, "'");
        std::size_t n = 1;
        bool too_big = false;
        for (int i = 0; i < info->rank && !too_big; ++i) too_big = __builtin_mul_overflow(n, info->dims[i], &n);
        too_big = too_big || n > 1000000;
        Mat_VarFree(info);
        if (too_big) detail::fail(path_.string(), ": variable '", name, "' declares more than a million elements, not a Cars devkit file");
        matvar_t* v = Mat_VarRead(mat_, name);
        if (v == nullptr) detail::fail(path_.string(), ": no variable '", name, "'");
        vars_.push_back(v);
        return v;
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    /// libmatio opens the file only after its structure is checked (mat_structure.hpp): matio
    /// allocates whatever sizes the file claims.
    static mat_t* open_checked(const std::filesystem::path& path) {
        check_mat_structure(path);
        return Mat_Open(path.c_str(), MAT_ACC_RDONLY);
    }

    std::filesystem::path path_;
    mat_t* mat_;
    std::vector<matvar_t*> vars_;
};

/// The number of elements, or SIZE_MAX when the dimensions overflow (then nothing matches).
inline std::size_t element_count(const matvar_t* v) {
    std::size_t n = 1;
    for (int i = 0; i < v->rank; ++i)
        if (__builtin_mul_overflow(n, v->dims[i], &n)) return SIZE_MAX;
    return n;
}

/// True when `v` holds `count` elements of `width` bytes in memory (matio read them all).
inline bool holds(const matvar_t* v, std::size_t count, std::size_t width) {
    std::size_t bytes = 0;
    return v->data != nullptr && !__builtin_mul_overflow(count, width, &bytes) && v->nbytes >= bytes;
}

/// Element `i` of a cell array, or null. matio's own accessors trust the variable's
/// dimensions; a crafted file can declare more elements than it holds (found by fuzz_cars_mat),
/// so the element array's size is checked here first.
inline matvar_t* cell_at(const matvar_t* cell, std::size_t i) {
    const std::size_t n = element_count(cell);
    if (i >= n || !holds(cell, n, sizeof(matvar_t*))) return nullptr;
    return static_cast<matvar_t* const*>(cell->data)[i];
}

/// Field `name` of element `i` of a struct array, or null, with the same checks: the field
/// names exist and the field array holds fields × elements entries.
inline matvar_t* struct_field(const matvar_t* st, const char* name, std::size_t i) {
    const unsigned fields = Mat_VarGetNumberOfFields(const_cast<matvar_t*>(st));
    char* const* names = Mat_VarGetStructFieldnames(st);
    const std::size_t n = element_count(st);
    if (fields == 0 || names == nullptr || i >= n || n > SIZE_MAX / fields || !holds(st, n * fields, sizeof(matvar_t*)))
        return nullptr;
    for (unsigned j = 0; j < fields; ++j)
        if (names[j] != nullptr && std::strcmp(names[j], name) == 0) return static_cast<matvar_t* const*>(st->data)[i * fields + j];
    return nullptr;
}

inline std::string as_string(const mat_file& f, const matvar_t* v, const std::string& what) {
    if (v == nullptr || v->class_type != MAT_C_CHAR) detail::fail(f.path().string(), ": ", what, " is not a string");
    const std::size_t n = element_count(v);
    const bool wide = v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16;
    if (n > 4096 || !holds(v, n, wide ? 2 : 1)) detail::fail(f.path().string(), ": ", what, " is not a readable string");
    std::string out;
    if (wide) {
        const auto* d = static_cast<const std::uint16_t*>(v->data);
        for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(d[i] < 128 ? d[i] : '?'));
    } else {
        out.assign(static_cast<const char*>(v->data), n);
    }
    return out;
}

inline double as_number(const mat_file& f, const matvar_t* v, const std::string& what) {
    if (v == nullptr || element_count(v) != 1 || v->data == nullptr || v->nbytes < 1)
        detail::fail(f.path().string(), ": ", what, " is not a scalar");
    const std::size_t need = v->class_type == MAT_C_DOUBLE || v->class_type == MAT_C_INT64 || v->class_type == MAT_C_UINT64 ? 8
                             : v->class_type == MAT_C_SINGLE || v->class_type == MAT_C_INT32 || v->class_type == MAT_C_UINT32 ? 4
                             : v->class_type == MAT_C_INT16 || v->class_type == MAT_C_UINT16 ? 2 : 1;
    if (v->nbytes < need) detail::fail(f.path().string(), ": ", what, " is not a readable scalar");
    switch (v->class_type) {
        case MAT_C_DOUBLE: return *static_cast<const double*>(v->data);
        case MAT_C_SINGLE: return *static_cast<const float*>(v->data);
        case MAT_C_INT8: return *static_cast<const std::int8_t*>(v->data);
        case MAT_C_UINT8: return *static_cast<const std::uint8_t*>(v->data);
        case MAT_C_INT16: return *static_cast<const std::int16_t*>(v->data);
        case MAT_C_UINT16: return *static_cast<const std::uint16_t*>(v->data);
        case MAT_C_INT32: return *static_cast<const std::int32_t*>(v->data);
        case MAT_C_UINT32: return *static_cast<const std::uint32_t*>(v->data);
        case MAT_C_INT64: return double(*static_cast<const std::int64_t*>(v->data));
        case MAT_C_UINT64: return double(*static_cast<const std::uint64_t*>(v->data));
        default: detail::fail(f.path().string(), ": ", what, " is not numeric");
    }
}

inline std::filesystem::path find_mat(const std::filesystem::path& root, const char* name) {
    for (const auto& candidate : {root / "devkit" / name, root / name})
        if (std::filesystem::exists(candidate)) return candidate;
    detail::fail("cars: missing ", name, " (looked in ", (root / "devkit").string(), " and ", root.string(), ")");
}

}  // namespace detail_mat

struct cars_options {
    bool crop_to_box = false;
};

inline dataset read_stanford_cars(const std::filesystem::path& root, const cars_options& o = {}) {
    using namespace detail_mat;
    dataset d;
    d.format = "cars";
    d.root = root;
    {
        mat_file meta(find_mat(root, "cars_meta.mat"));
        matvar_t* names = meta.read("class_names");
        if (names->class_type != MAT_C_CELL || names->data == nullptr || element_count(names) > 100000)
            detail::fail(meta.path().string(), ": class_names is not a cell array of strings");
        for (std::size_t i = 0; i < element_count(names); ++i)
            d.classes.push_back(as_string(meta, cell_at(names, i), "class_names{" + std::to_string(i + 1) + "}"));
    }
    auto read_split = [&](const char* file, const char* folder, std::vector<sample>& out) {
        mat_file f(find_mat(root, file));
        matvar_t* annos = f.read("annotations");
        if (annos->class_type != MAT_C_STRUCT || annos->data == nullptr || element_count(annos) > 10000000)
            detail::fail(f.path().string(), ": annotations is not a struct array");
        for (std::size_t i = 0; i < element_count(annos); ++i) {
            const std::string where = "annotations(" + std::to_string(i + 1) + ").";
            auto field = [&](const char* name) {
                matvar_t* v = struct_field(annos, name, i);
                if (v == nullptr) detail::fail(f.path().string(), ": ", where, name, " is missing");
                return v;
            };
            const std::string fname = as_string(f, field("fname"), where + "fname");
            const double cls = as_number(f, field("class"), where + "class");
            if (cls < 1 || cls > double(d.classes.size()) || cls != std::floor(cls))
                detail::fail(f.path().string(), ": ", where, "class ", cls, " is outside 1..", d.classes.size());
            sample s{std::string(folder) + "/" + fname, static_cast<std::int32_t>(cls) - 1, std::nullopt, -1, 0};
            if (o.crop_to_box) {
                // A whole number in 1..10^6 before it becomes an integer: a crafted 1e300 or NaN
                // would make the conversion undefined (found by fuzz_cars_mat).
                auto coordinate = [&](const char* name) {
                    const double v = as_number(f, field(name), where + name);
                    if (!(v >= 1 && v <= 1e6) || v != std::floor(v))
                        detail::fail(f.path().string(), ": ", where, name, " ", v,
                                     " is not a pixel coordinate (a whole number in 1..1000000)");
                    return static_cast<std::int64_t>(v);
                };
                const auto x1 = coordinate("bbox_x1");
                const auto y1 = coordinate("bbox_y1");
                const auto x2 = coordinate("bbox_x2");
                const auto y2 = coordinate("bbox_y2");
                if (x2 < x1 || y2 < y1) detail::fail(f.path().string(), ": ", where, "bbox is empty");
                s.box = crop_box{y1 - 1, x1 - 1, y2 - y1 + 1, x2 - x1 + 1};  // 1-based inclusive → 0-based
            }
            out.push_back(std::move(s));
        }
    };
    read_split("cars_train_annos.mat", "cars_train", d.train);
    read_split("cars_test_annos_withlabels.mat", "cars_test", d.test);
    d.validate();
    return d;
}

}  // namespace smile::data::formats
