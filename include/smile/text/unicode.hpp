#pragma once
/// @file
/// The Unicode a BERT tokenizer needs, from ICU (libicu): UTF-8 to code points and back,
/// general categories, NFC and NFD normalization, and full lower-casing as Python's str.lower()
/// does it (ICU's root-locale mapping: special casings and the final sigma included).
///
/// Invalid UTF-8 becomes U+FFFD, as Python's errors="replace" decodes it; the tokenizer then
/// drops it as its reference does with U+FFFD.

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <smile/core/error.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace smile::text {

using code_point = char32_t;

/// The code points of UTF-8 `text`; each invalid sequence becomes U+FFFD.
[[nodiscard]] inline std::vector<code_point> decode_utf8(std::string_view text) {
    std::vector<code_point> out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
    const auto length = static_cast<std::int32_t>(text.size());
    SMILE_CHECK(text.size() <= std::size_t(INT32_MAX), "text of ", text.size(),
                " bytes is longer than 2 GB");
    for (std::int32_t i = 0; i < length;) {
        UChar32 c = 0;
        U8_NEXT(s, i, length, c);
        out.push_back(c < 0 ? code_point(0xFFFD) : code_point(c));
    }
    return out;
}

[[nodiscard]] inline std::string encode_utf8(const std::vector<code_point>& points) {
    std::string out;
    out.reserve(points.size());
    for (const code_point c : points) {
        std::uint8_t buffer[4];
        std::int32_t n = 0;
        UBool error = false;
        U8_APPEND(buffer, n, 4, UChar32(c), error);
        if (error) {  // a surrogate or beyond U+10FFFF: not a character
            n = 0;
            U8_APPEND_UNSAFE(buffer, n, 0xFFFD);
        }
        out.append(reinterpret_cast<const char*>(buffer), std::size_t(n));
    }
    return out;
}

/// The first letter of the general category, as Python's unicodedata.category(c)[0].
[[nodiscard]] inline char category_class(code_point c) {
    switch (u_charType(UChar32(c))) {
        case U_UPPERCASE_LETTER:
        case U_LOWERCASE_LETTER:
        case U_TITLECASE_LETTER:
        case U_MODIFIER_LETTER:
        case U_OTHER_LETTER:
            return 'L';
        case U_NON_SPACING_MARK:
        case U_ENCLOSING_MARK:
        case U_COMBINING_SPACING_MARK:
            return 'M';
        case U_DECIMAL_DIGIT_NUMBER:
        case U_LETTER_NUMBER:
        case U_OTHER_NUMBER:
            return 'N';
        case U_SPACE_SEPARATOR:
        case U_LINE_SEPARATOR:
        case U_PARAGRAPH_SEPARATOR:
            return 'Z';
        case U_DASH_PUNCTUATION:
        case U_START_PUNCTUATION:
        case U_END_PUNCTUATION:
        case U_CONNECTOR_PUNCTUATION:
        case U_OTHER_PUNCTUATION:
        case U_INITIAL_PUNCTUATION:
        case U_FINAL_PUNCTUATION:
            return 'P';
        case U_MATH_SYMBOL:
        case U_CURRENCY_SYMBOL:
        case U_MODIFIER_SYMBOL:
        case U_OTHER_SYMBOL:
            return 'S';
        default:
            return 'C';  // control, format, surrogate, private use, unassigned
    }
}

/// Whether `c` is a non-spacing mark (category Mn): what stripping accents removes after NFD.
[[nodiscard]] inline bool is_nonspacing_mark(code_point c) {
    return u_charType(UChar32(c)) == U_NON_SPACING_MARK;
}

/// Whether `c` is a space separator (category Zs).
[[nodiscard]] inline bool is_space_separator(code_point c) {
    return u_charType(UChar32(c)) == U_SPACE_SEPARATOR;
}

namespace detail_unicode {

inline icu::UnicodeString to_icu(const std::vector<code_point>& points) {
    icu::UnicodeString s;
    for (const code_point c : points) s.append(UChar32(c));
    return s;
}

inline std::vector<code_point> from_icu(const icu::UnicodeString& s) {
    std::vector<code_point> out;
    out.reserve(std::size_t(s.length()));
    for (std::int32_t i = 0; i < s.length(); i = s.moveIndex32(i, 1))
        out.push_back(code_point(s.char32At(i)));
    return out;
}

inline std::vector<code_point> normalize(const std::vector<code_point>& points, bool composed) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = composed ? icu::Normalizer2::getNFCInstance(status)
                                         : icu::Normalizer2::getNFDInstance(status);
    SMILE_CHECK(U_SUCCESS(status), "ICU: no ", composed ? "NFC" : "NFD", " normalizer (",
                u_errorName(status), ")");
    const icu::UnicodeString out = n->normalize(to_icu(points), status);
    SMILE_CHECK(U_SUCCESS(status), "ICU: normalization failed (", u_errorName(status), ")");
    return from_icu(out);
}

}  // namespace detail_unicode

[[nodiscard]] inline std::vector<code_point> nfc(const std::vector<code_point>& points) {
    return detail_unicode::normalize(points, true);
}
[[nodiscard]] inline std::vector<code_point> nfd(const std::vector<code_point>& points) {
    return detail_unicode::normalize(points, false);
}

/// Full lower-casing (one character may become several; Σ at a word's end becomes ς).
[[nodiscard]] inline std::vector<code_point> to_lower(const std::vector<code_point>& points) {
    icu::UnicodeString s = detail_unicode::to_icu(points);
    s.toLower(icu::Locale::getRoot());
    return detail_unicode::from_icu(s);
}

}  // namespace smile::text
