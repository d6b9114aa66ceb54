#pragma once
/// @file
/// Tables of text fields, one record per row, in the two forms text-classification sets ship in:
/// - TSV as GLUE writes it (SST-2's `train.tsv`, `dev.tsv`): fields split at every tab, no
///   quoting at all. Sentences hold `"` freely, which is why GLUE's readers turn quoting off
///   (Python's `csv.reader(..., quotechar=None)`); a CSV parser would misread them.
/// - CSV per RFC 4180, parsed by libcsv in strict mode: quoted fields may hold commas, doubled
///   quotes and line breaks; a malformed quoted field is an error.
/// Blank rows are skipped. Each record keeps the line it starts on, so that later errors (a
/// missing column, a bad label) name the file and line.

#include <csv.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <smile/core/error.hpp>
#include <string>
#include <vector>

namespace smile::data::formats {

struct delimited_record {
    std::size_t line = 0;  ///< 1-based line of the record's first field
    std::vector<std::string> fields;
};

namespace detail_delimited {

inline std::ifstream open(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::fail("cannot open ", path.string(), ": ", std::strerror(errno));
    return in;
}

/// libcsv's callbacks fill this: fields of the open record, then whole records.
struct csv_sink {
    std::vector<delimited_record> records;
    delimited_record open;
    std::size_t line = 0;             ///< the physical line being parsed
    std::size_t newlines_inside = 0;  ///< line breaks inside the open record's quoted fields

    static void field(void* text, std::size_t size, void* self) {
        auto& s = *static_cast<csv_sink*>(self);
        std::string value(text == nullptr ? "" : static_cast<const char*>(text), size);
        for (char c : value) s.newlines_inside += c == '\n';
        s.open.fields.push_back(std::move(value));
    }
    static void end_record(int, void* self) {
        auto& s = *static_cast<csv_sink*>(self);
        s.open.line = s.line - s.newlines_inside;
        // A line of spaces is one empty field: skip it as the blank row it is.
        if (!(s.open.fields.size() == 1 && s.open.fields[0].empty()))
            s.records.push_back(std::move(s.open));
        s.open = {};
        s.newlines_inside = 0;
    }
};

}  // namespace detail_delimited

/// Every non-blank row of a tab-separated file, split at every tab (no quoting; a trailing '\r'
/// is dropped).
[[nodiscard]] inline std::vector<delimited_record> read_tsv(const std::filesystem::path& path) {
    auto in = detail_delimited::open(path);
    std::vector<delimited_record> out;
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        delimited_record r{n, {}};
        std::size_t from = 0;
        for (;;) {
            const auto tab = line.find('\t', from);
            r.fields.push_back(
                line.substr(from, tab == std::string::npos ? std::string::npos : tab - from));
            if (tab == std::string::npos) break;
            from = tab + 1;
        }
        out.push_back(std::move(r));
    }
    if (in.bad()) detail::fail("cannot read ", path.string(), ": ", std::strerror(errno));
    return out;
}

/// Every non-blank record of an RFC 4180 CSV file (`delimiter` ',' unless told), by libcsv in
/// strict mode; a malformed quoted field is an error naming the line.
[[nodiscard]] inline std::vector<delimited_record> read_csv(const std::filesystem::path& path,
                                                            char delimiter = ',') {
    auto in = detail_delimited::open(path);
    csv_parser parser{};
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
        detail::fail("cannot read ", path.string(), ": libcsv could not start");
    csv_set_delim(&parser, static_cast<unsigned char>(delimiter));
    struct free_parser {
        csv_parser* p;
        ~free_parser() { csv_free(p); }
    } release{&parser};
    detail_delimited::csv_sink sink;
    auto failed = [&](std::size_t line) {
        detail::fail(path.string(), ":", line, ": ", csv_strerror(csv_error(&parser)),
                     " (a quote inside an unquoted field, text after a closing quote, or a quoted "
                     "field never closed)");
    };
    // Fed line by line, so that every record knows where it began.
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        line += '\n';
        sink.line = n;
        if (csv_parse(&parser, line.data(), line.size(), detail_delimited::csv_sink::field,
                      detail_delimited::csv_sink::end_record, &sink) != line.size())
            failed(n);
    }
    if (in.bad()) detail::fail("cannot read ", path.string(), ": ", std::strerror(errno));
    if (csv_fini(&parser, detail_delimited::csv_sink::field, detail_delimited::csv_sink::end_record,
                 &sink) != 0)
        failed(sink.line);
    return std::move(sink.records);
}

}  // namespace smile::data::formats
