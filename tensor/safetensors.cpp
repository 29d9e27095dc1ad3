// safetensors.cpp — the safetensors reader and writer (format in safetensors.hpp), with the small
// JSON parser and writer they need. Model and optimizer checkpoints are built on top in
// nn/checkpoint.cpp.
//
// The reader is written for hostile input: the header length, every offset and every shape is
// checked against the bytes actually present before anything is allocated or copied, and the
// header is read without building a tree of it, so a corrupt file gives an error message, never a
// crash, and memory stays within a small multiple of the file's size (fuzz/fuzz_safetensors.cpp).
#include "tensor/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "tensor/file_io.hpp"

namespace tensor {

static_assert(std::endian::native == std::endian::little,
              "safetensors.cpp reads and writes little-endian data with memcpy");

namespace {

// Named apart from npy.cpp's limits: the library builds tensor/ as one translation unit.
constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;  // the reference's limit
constexpr int kMaxJsonNesting = 64;              // deeper JSON is not a safetensors header
constexpr std::size_t kMaxSafetensorsDims = 64;  // as for .npy files
constexpr const char* kMetadataKey = "__metadata__";

// A name or value as it should appear in an error message (long ones shortened).
std::string shown(const std::string& text) {
  return text.size() > 80 ? text.substr(0, 80) + "..." : text;
}

// ---- UTF-8 --------------------------------------------------------------------------------------

// Position of the first byte where `text` stops being valid UTF-8, or npos when all of it is.
// Rejected: stray continuation bytes, overlong forms, surrogates (U+D800..DFFF), > U+10FFFF.
std::size_t invalid_utf8_at(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // The length of the sequence, and the range allowed for its second byte, from the lead byte.
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // no overlong 3-byte forms
      if (lead == 0xED) high = 0x9F;  // no surrogates (U+D800..DFFF)
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // no overlong 4-byte forms
      if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;  // a continuation byte, or C0, C1, F5..FF, which never start a character
    }
    if (length > text.size() - i) return i;
    unsigned char second = static_cast<unsigned char>(text[i + 1]);
    if (second < low || second > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xBF) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += char(code);
  } else if (code < 0x800) {
    out += char(0xC0 | (code >> 6));
    out += char(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += char(0xE0 | (code >> 12));
    out += char(0x80 | ((code >> 6) & 0x3F));
    out += char(0x80 | (code & 0x3F));
  } else {
    out += char(0xF0 | (code >> 18));
    out += char(0x80 | ((code >> 12) & 0x3F));
    out += char(0x80 | ((code >> 6) & 0x3F));
    out += char(0x80 | (code & 0x3F));
  }
}

// ---- JSON writing -------------------------------------------------------------------------------

void write_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          const char* hex = "0123456789abcdef";
          out += std::string("\\u00") + hex[(c >> 4) & 15] + hex[c & 15];
        } else {
          out += c;  // UTF-8 bytes go in as they are
        }
    }
  }
  out += '"';
}

// ---- dtypes -------------------------------------------------------------------------------------

std::string dtype_code(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
  }
  throw std::logic_error("safetensors: unknown dtype");
}

// The dtype stored as `code`, or false for codes we do not hold (set `known` when the code is one
// of the format's other dtypes, so that the message can tell "unsupported" from "garbage").
bool dtype_from_code(const std::string& code, DType& dtype, bool& known) {
  for (DType candidate : {DType::Float32, DType::Float64, DType::Int64, DType::Bool})
    if (dtype_code(candidate) == code) {
      dtype = candidate;
      return true;
    }
  static const std::set<std::string> other_codes = {
      "F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
      "C64", "I8",   "I16",     "I32",     "U8",      "U16",     "U32",     "U64"};
  known = other_codes.count(code) > 0;
  return false;
}

// ---- JSON reading: the header in one pass -------------------------------------------------------

// One tensor of the header: "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}.
struct TensorEntry {
  std::string name;
  std::string code;  // the dtype as written ("F32"), for messages
  DType dtype = DType::Float32;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

// A JSON number as written, and its value when it is a non-negative integer that fits in 64 bits.
struct JsonNumber {
  std::string text;
  bool is_uint = false;
  std::uint64_t value = 0;
};

// Reads the JSON header in one pass, checking the whole of its syntax (RFC 8259) but keeping only
// what a safetensors file needs: names, dtypes, shapes, offsets and metadata. Anything else (an
// unknown field and whatever it holds) is checked and skipped without being stored, so a hostile
// header cannot make the reader build a structure many times its own size. Every method leaves
// pos_ just after what it read.
class HeaderReader {
 public:
  HeaderReader(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  void read(std::vector<TensorEntry>& tensors, std::map<std::string, std::string>& metadata) {
    skip_space();
    if (at_end()) fail("the header is empty, expected a JSON object");
    if (peek() != '{') fail("the header is " + skip_value(0) + ", expected a JSON object");
    read_object(0, [&](const std::string& name) {
      if (name == kMetadataKey)
        read_metadata(metadata);
      else
        tensors.push_back(read_tensor(name));
    });
    skip_space();  // the header may be padded with spaces
    if (!at_end()) syntax_error("unexpected text after the JSON object");
  }

 private:
  // A file that is valid JSON but not a valid safetensors header...
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("load_safetensors: " + source_ + ": " + what);
  }
  // ...and one that is not even valid JSON.
  [[noreturn]] void syntax_error(const std::string& what) const {
    fail("invalid JSON header at byte " + std::to_string(pos_) + ": " + what);
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  bool next_is(char c) const { return !at_end() && peek() == c; }
  bool take(char c) {
    if (!next_is(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!take(c)) syntax_error(std::string("expected '") + c + "'");
  }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\n' || peek() == '\t' || peek() == '\r'))
      ++pos_;
  }
  void check_depth(int depth) const {
    if (depth > kMaxJsonNesting)
      syntax_error("values nested more than " + std::to_string(kMaxJsonNesting) + " deep");
  }

  // ---- the safetensors structure

  // "__metadata__": {"key": "value", ...}
  void read_metadata(std::map<std::string, std::string>& metadata) {
    if (!next_is('{')) fail("\"__metadata__\" is " + skip_value(1) + ", expected an object");
    read_object(1, [&](const std::string& key) {
      if (!next_is('"'))
        fail("metadata \"" + shown(key) + "\" is " + skip_value(2) + ", expected a string");
      metadata[key] = parse_string();
    });
  }

  // "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}; other fields are
  // skipped (as the reference implementation ignores them).
  TensorEntry read_tensor(const std::string& name) {
    std::string tensor = "tensor '" + shown(name) + "'";
    if (!next_is('{'))
      fail(tensor + " is " + skip_value(1) +
           ", expected an object with dtype, shape, data_offsets");
    TensorEntry entry;
    entry.name = name;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    read_object(1, [&](const std::string& key) {
      if (key == "dtype") {
        if (!next_is('"')) fail(tensor + ": \"dtype\" is " + skip_value(2) + ", expected a string");
        entry.code = parse_string();
        bool known = false;
        if (!dtype_from_code(entry.code, entry.dtype, known))
          fail(tensor +
               (known ? " has dtype " + entry.code + ", which is not supported"
                      : " has unknown dtype \"" + shown(entry.code) + "\"") +
               " (supported: F32, F64, I64, BOOL)");
        has_dtype = true;
      } else if (key == "shape") {
        const std::uint64_t max_size = std::uint64_t(std::numeric_limits<std::int64_t>::max());
        for (std::uint64_t size :
             read_uints(tensor + ": \"shape\"", "must hold only non-negative integers", kMaxSafetensorsDims,
                        max_size))
          entry.shape.push_back(std::int64_t(size));
        has_shape = true;
      } else if (key == "data_offsets") {
        std::string rule = "must be [begin, end], two non-negative integers";
        std::vector<std::uint64_t> offsets =
            read_uints(tensor + ": \"data_offsets\"", rule, 2, ~0ULL);
        if (offsets.size() != 2)
          fail(tensor + ": \"data_offsets\" " + rule + ", got " + std::to_string(offsets.size()) +
               " values");
        entry.begin = offsets[0];
        entry.end = offsets[1];
        has_offsets = true;
      } else {
        skip_value(2);
      }
    });
    if (!has_dtype || !has_shape || !has_offsets)
      fail(tensor + " lacks \"" +
           (!has_dtype   ? "dtype"
            : !has_shape ? "shape"
                         : "data_offsets") +
           "\"");
    return entry;
  }

  // [n, n, ...]: at most max_count integers, each in 0..max_value; `what` and `rule` word the
  // error.
  std::vector<std::uint64_t> read_uints(const std::string& what, const std::string& rule,
                                        std::size_t max_count, std::uint64_t max_value) {
    if (!next_is('[')) fail(what + " is " + skip_value(2) + ", expected an array");
    std::vector<std::uint64_t> values;
    ++pos_;  // '['
    skip_space();
    if (take(']')) return values;
    while (true) {
      skip_space();
      if (at_end() || !(peek() == '-' || (peek() >= '0' && peek() <= '9')))
        fail(what + " " + rule + ", got " + skip_value(3));
      JsonNumber number = parse_number();
      if (!number.is_uint || number.value > max_value)
        fail(what + " " + rule + ", got " + shown(number.text));
      if (values.size() == max_count)
        fail(what + " " + rule + ", got more than " + std::to_string(max_count) + " values");
      values.push_back(number.value);
      skip_space();
      if (take(',')) continue;
      expect(']');
      return values;
    }
  }

  // ---- JSON syntax

  // {"key": value, ...}, keys unique: calls on_member(key) with pos_ at the value, which
  // on_member must read.
  template <typename OnMember>
  void read_object(int depth, OnMember&& on_member) {
    check_depth(depth);
    std::set<std::string> seen;
    expect('{');
    skip_space();
    if (take('}')) return;
    while (true) {
      skip_space();
      if (!next_is('"')) syntax_error("expected a string key");
      std::string key = parse_string();
      if (!seen.insert(key).second) syntax_error("duplicate key \"" + shown(key) + "\"");
      skip_space();
      expect(':');
      skip_space();
      on_member(key);
      skip_space();
      if (take(',')) continue;
      expect('}');
      return;
    }
  }

  // Checks one value of any kind and skips it; returns its kind ("an array", ...) for messages.
  std::string skip_value(int depth) {
    check_depth(depth);
    if (at_end()) syntax_error("the header ends in the middle of a value");
    char c = peek();
    if (c == '{') {
      read_object(depth, [&](const std::string&) { skip_value(depth + 1); });
      return "an object";
    }
    if (c == '[') {
      ++pos_;
      skip_space();
      if (take(']')) return "an array";
      while (true) {
        skip_space();
        skip_value(depth + 1);
        skip_space();
        if (take(',')) continue;
        expect(']');
        return "an array";
      }
    }
    if (c == '"') {
      parse_string();
      return "a string";
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      parse_number();
      return "a number";
    }
    for (const char* word : {"true", "false", "null"}) {
      if (text_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        return word[0] == 'n' ? "null" : "a boolean";
      }
    }
    syntax_error("expected a value (object, array, string, number, true, false or null)");
  }

  std::uint32_t parse_hex4() {
    if (text_.size() - pos_ < 4) syntax_error("\\u needs 4 hex digits");
    std::uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      std::uint32_t digit = c >= '0' && c <= '9'   ? std::uint32_t(c - '0')
                            : c >= 'a' && c <= 'f' ? std::uint32_t(c - 'a' + 10)
                            : c >= 'A' && c <= 'F' ? std::uint32_t(c - 'A' + 10)
                                                   : 16;
      if (digit == 16) syntax_error("\\u needs 4 hex digits");
      code = code * 16 + digit;
    }
    return code;
  }

  // "text" with the escapes \" \\ \/ \b \f \n \r \t \uXXXX (a pair of them for a surrogate pair).
  std::string parse_string() {
    std::string out;
    ++pos_;  // '"'
    while (true) {
      if (at_end()) syntax_error("a string is not closed");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        syntax_error("a control character inside a string must be escaped");
      ++pos_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) syntax_error("a string is not closed");
      char escaped = text_[pos_++];
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
          out += escaped;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t code = parse_hex4();
          if (code >= 0xDC00 && code <= 0xDFFF)
            syntax_error("a \\u escape is a lone low surrogate");
          if (code >= 0xD800 && code <= 0xDBFF) {  // a high surrogate: its low half must follow
            if (text_.substr(pos_, 2) != "\\u")
              syntax_error("a \\u escape is a lone high surrogate");
            pos_ += 2;
            std::uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF)
              syntax_error("a high surrogate is not followed by a low one");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default:
          --pos_;
          syntax_error("invalid escape \\" + std::string(1, escaped));
      }
    }
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  JsonNumber parse_number() {
    JsonNumber number;
    std::size_t start = pos_;
    bool negative = take('-'), integral = true;
    auto digits = [&] {
      std::size_t first = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      if (pos_ == first) syntax_error("invalid number");
    };
    if (!take('0')) digits();
    if (take('.')) {
      integral = false;
      digits();
    }
    if (take('e') || take('E')) {
      integral = false;
      if (!take('+')) take('-');
      digits();
    }
    number.text = std::string(text_.substr(start, pos_ - start));
    if (integral && !negative) {
      number.is_uint = true;
      for (char c : number.text) {
        std::uint64_t digit = std::uint64_t(c - '0');
        if (number.value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          number.is_uint = false;  // too large for 64 bits
          break;
        }
        number.value = number.value * 10 + digit;
      }
    }
    return number;
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

}  // namespace

// ---- reading ------------------------------------------------------------------------------------

namespace {

[[noreturn]] void fail_load(const std::string& source, const std::string& what) {
  throw std::runtime_error("load_safetensors: " + source + ": " + what);
}

// The header length from the file's first min(8, file_size) bytes, checked against the file.
std::uint64_t parse_header_length(std::string_view first_bytes, std::uint64_t file_size,
                                  const std::string& source) {
  if (first_bytes.size() < 8)
    fail_load(source, "truncated: the file has " + std::to_string(first_bytes.size()) +
                     " bytes, fewer than the 8 of the header length");
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i)
    header_length |= std::uint64_t(static_cast<unsigned char>(first_bytes[i])) << (8 * i);
  if (header_length > kMaxSafetensorsHeaderBytes)
    fail_load(source, "header length " + std::to_string(header_length) + " exceeds the limit of " +
                     std::to_string(kMaxSafetensorsHeaderBytes) + " bytes (a corrupt file?)");
  if (header_length > file_size - 8)
    fail_load(source, "header length " + std::to_string(header_length) +
                     " goes beyond the end of the file (only " + std::to_string(file_size - 8) +
                     " bytes follow the length field)");
  return header_length;
}

// Parses the header and checks every entry against a data buffer of `buffer_size` bytes: sizes,
// offsets, and that the tensors tile the buffer. Nothing is allocated beyond the header's own
// entries.
std::vector<TensorEntry> parse_header(std::string_view header_text, std::uint64_t buffer_size,
                                      const std::string& source,
                                      std::map<std::string, std::string>& metadata) {
  if (std::size_t bad = invalid_utf8_at(header_text); bad != std::string_view::npos)
    fail_load(source, "the header is not valid UTF-8 (byte " + std::to_string(bad) + ")");

  // ---- each entry: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
  std::vector<TensorEntry> entries;
  HeaderReader(header_text, source).read(entries, metadata);
  const std::uint64_t max_int64 = std::uint64_t(std::numeric_limits<std::int64_t>::max());
  for (const TensorEntry& entry : entries) {
    std::string tensor = "tensor '" + shown(entry.name) + "'";
    // itemsize times the product of the nonzero sizes must fit in int64 (checked before each
    // multiplication); then numel * itemsize cannot overflow.
    std::uint64_t nonzero_bytes = dtype_size(entry.dtype);
    for (std::int64_t size : entry.shape) {
      if (size == 0) continue;
      if (nonzero_bytes > max_int64 / std::uint64_t(size))
        fail_load(source, tensor + ": shape " + shape_str(entry.shape) +
                         " is too large (its byte count overflows 64 bits)");
      nonzero_bytes *= std::uint64_t(size);
    }
    // An empty tensor's strides must fit too, for every dtype it may be converted to (as in
    // npy.cpp: a shape [0, 2^60] holds no bytes but has 2^63-byte float64 strides).
    try {
      layout_span_bytes(entry.shape, sizeof(double), "load_safetensors");
    } catch (const std::length_error&) {
      fail_load(source, tensor + ": shape " + shape_str(entry.shape) +
                       " is too large (its byte strides overflow 64 bits for 8-byte elements)");
    }
    std::uint64_t expected_bytes = shape_numel(entry.shape) == 0 ? 0 : nonzero_bytes;

    std::string range = "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end)
      fail_load(source, tensor + ": data_offsets " + range + " end before they begin");
    if (entry.end > buffer_size)
      fail_load(source, tensor + ": data_offsets " + range + " go beyond the data buffer (" +
                       std::to_string(buffer_size) + " bytes)");
    if (entry.end - entry.begin != expected_bytes)
      fail_load(source, tensor + ": data_offsets " + range + " hold " +
                       std::to_string(entry.end - entry.begin) + " bytes but dtype " + entry.code +
                       " and shape " + shape_str(entry.shape) + " need " +
                       std::to_string(expected_bytes));
  }

  // ---- the tensors must tile the buffer: no overlaps, no holes, nothing left over
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& entry : entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
  const TensorEntry* previous = nullptr;
  auto bytes_range = [](std::uint64_t begin, std::uint64_t end) {
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
  };
  for (const TensorEntry* entry : by_offset) {
    if (entry->begin < covered)
      fail_load(source, "tensors '" + shown(previous->name) + "' and '" + shown(entry->name) +
                       "' overlap (bytes " + bytes_range(previous->begin, previous->end) +
                       " and " + bytes_range(entry->begin, entry->end) + " of the data buffer)");
    if (entry->begin > covered)
      fail_load(source, "bytes " + bytes_range(covered, entry->begin) +
                       " of the data buffer belong to no tensor (the format allows no holes)");
    covered = entry->end;
    previous = entry;
  }
  if (covered != buffer_size)
    fail_load(source, "bytes " + bytes_range(covered, buffer_size) +
                     " at the end of the data buffer belong to no tensor (the format allows no "
                     "holes)");
  return entries;
}

// Fills a new array for `entry` with `read(destination, byte count)`, which copies the entry's
// bytes from wherever they are (a buffer in memory, a file).
template <typename ReadBytes>
Array make_array(const TensorEntry& entry, ReadBytes&& read) {
  Array array(entry.shape, entry.dtype);
  std::uint64_t nbytes = entry.end - entry.begin;
  if (nbytes == 0) return array;
  read(array.raw_data(), static_cast<std::size_t>(nbytes));
  if (entry.dtype == DType::Bool) {
    // Any nonzero byte is true; a bool holding another byte is undefined behaviour to read.
    unsigned char* bytes = static_cast<unsigned char*>(array.raw_data());
    for (std::uint64_t i = 0; i < nbytes; ++i) bytes[i] = bytes[i] != 0 ? 1 : 0;
  }
  return array;
}

}  // namespace

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  std::uint64_t header_length = parse_header_length(bytes.substr(0, 8), bytes.size(), source);
  std::string_view buffer = bytes.substr(8 + header_length);
  SafetensorsFile file;
  std::vector<TensorEntry> entries =
      parse_header(bytes.substr(8, header_length), buffer.size(), source, file.metadata);
  for (const TensorEntry& entry : entries)
    file.tensors.emplace_back(entry.name, make_array(entry, [&](void* out, std::size_t count) {
                                std::memcpy(out, buffer.data() + entry.begin, count);
                              }));
  return file;
}

// Bounded reads, as load_npy: the length field, then the header, then (once every offset is
// checked against the file's size) each tensor's bytes straight into its array.
SafetensorsFile load_safetensors(const std::string& path) {
  InputFile input(path, "load_safetensors");
  std::string first_bytes =
      input.read_string(0, static_cast<std::size_t>(std::min<std::uint64_t>(8, input.size())));
  std::uint64_t header_length = parse_header_length(first_bytes, input.size(), path);
  std::string header_text = input.read_string(8, static_cast<std::size_t>(header_length));
  const std::uint64_t buffer_offset = 8 + header_length;
  SafetensorsFile file;
  std::vector<TensorEntry> entries =
      parse_header(header_text, input.size() - buffer_offset, path, file.metadata);
  for (const TensorEntry& entry : entries)
    file.tensors.emplace_back(entry.name, make_array(entry, [&](void* out, std::size_t count) {
                                input.read_at(buffer_offset + entry.begin, out, count);
                              }));
  return file;
}

// ---- writing ------------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const NamedArrays& tensors,
                      const std::map<std::string, std::string>& metadata) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("save_safetensors: " + path + ": " + what);
  };
  std::set<std::string> names;
  for (const auto& [name, array] : tensors) {
    if (name == kMetadataKey) fail("the name \"__metadata__\" is reserved for the metadata");
    if (!names.insert(name).second) fail("the name '" + shown(name) + "' appears twice");
    if (!array.defined()) fail("the array '" + shown(name) + "' is undefined");
    if (invalid_utf8_at(name) != std::string_view::npos)
      fail("the name '" + shown(name) + "' is not valid UTF-8");
  }
  for (const auto& [key, value] : metadata)
    if (invalid_utf8_at(key) != std::string_view::npos ||
        invalid_utf8_at(value) != std::string_view::npos)
      fail("metadata '" + shown(key) + "' is not valid UTF-8");

  // Lay the data out widest dtype first (as the reference writer does): with a header length
  // that is a multiple of 8, every tensor then starts at a multiple of its own element size.
  std::vector<Array> host;
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    host.push_back(tensors[i].second.to(kCPU).contiguous());
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(host[a].dtype()) > dtype_size(host[b].dtype());
  });
  std::vector<std::uint64_t> begin(tensors.size()), end(tensors.size());
  std::uint64_t offset = 0;
  for (std::size_t i : order) {
    begin[i] = offset;
    offset += std::uint64_t(host[i].numel()) * dtype_size(host[i].dtype());
    end[i] = offset;
  }

  // The header, entries in the caller's order, padded with spaces to a multiple of 8 bytes.
  std::string header = "{";
  if (!metadata.empty()) {
    write_json_string(header, kMetadataKey);
    header += ":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      write_json_string(header, key);
      header += ':';
      write_json_string(header, value);
    }
    header += '}';
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (header.size() > 1) header += ',';
    write_json_string(header, tensors[i].first);
    header += ":{\"dtype\":\"" + dtype_code(host[i].dtype()) + "\",\"shape\":[";
    for (std::size_t d = 0; d < host[i].shape().size(); ++d)
      header += (d > 0 ? "," : "") + std::to_string(host[i].shape()[d]);
    header +=
        "],\"data_offsets\":[" + std::to_string(begin[i]) + "," + std::to_string(end[i]) + "]}";
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string length(8, '\0');
  for (int i = 0; i < 8; ++i) length[i] = char((std::uint64_t(header.size()) >> (8 * i)) & 0xff);
  std::vector<std::string_view> pieces = {length, header};
  for (std::size_t i : order)
    if (end[i] > begin[i])
      pieces.emplace_back(static_cast<const char*>(host[i].raw_data()), end[i] - begin[i]);
  write_file_atomic(path, pieces, "save_safetensors");
}

}  // namespace tensor
