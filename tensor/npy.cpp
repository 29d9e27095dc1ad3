// npy.cpp — the .npy reader and writer (format described in npy.hpp), and the whole-file helpers.
//
// Reading is written for hostile input: every length and count in the file is checked against
// the bytes actually present before anything is allocated or copied, and the header's size, depth
// and number of values are capped, so a corrupt or malicious file gives an error message, never a
// crash or a huge allocation (fuzz/fuzz_npy.cpp tries).
#include "tensor/npy.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace tensor {

// Raw bytes are copied in and out unchanged, which is only right on a little-endian machine
// (x86-64, ARM64 in its usual mode: every machine this library targets).
static_assert(std::endian::native == std::endian::little,
              "npy.cpp reads and writes little-endian data with memcpy");

namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
constexpr std::size_t kMaxHeaderBytes = 1 << 20;  // numpy writes < 200 bytes; 1 MiB is plenty
constexpr std::size_t kMaxDims = 64;              // numpy's own limit (NPY_MAXDIMS in numpy 2)
constexpr int kMaxNesting = 32;                   // deeper header literals are not .npy headers
constexpr int kMaxValues = 10000;                 // a real header holds a few values per dim

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error("load_npy: " + source + ": " + what);
}

// A character as it should appear in an error message: 'x', or \xNN when not printable.
std::string show_char(char c) {
  unsigned char byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  const char* hex = "0123456789abcdef";
  return std::string("\\x") + hex[byte >> 4] + hex[byte & 15];
}

// ---- the header: a Python literal ------------------------------------------------------------

// The Python values a header can hold. numpy writes only a dict of a string, a bool and a tuple
// of ints, but the parser accepts any literal so that it can say precisely what is wrong.
struct Literal {
  enum class Kind { String, Integer, Boolean, None, Tuple, List, Dict };
  Kind kind = Kind::None;
  std::string text;            // String
  std::int64_t integer = 0;    // Integer
  bool boolean = false;        // Boolean
  std::vector<Literal> items;  // Tuple and List; Dict: key, value, key, value, ...
};

std::string kind_name(Literal::Kind kind) {
  switch (kind) {
    case Literal::Kind::String:
      return "a string";
    case Literal::Kind::Integer:
      return "an integer";
    case Literal::Kind::Boolean:
      return "a bool";
    case Literal::Kind::None:
      return "None";
    case Literal::Kind::Tuple:
      return "a tuple";
    case Literal::Kind::List:
      return "a list";
    case Literal::Kind::Dict:
      return "a dict";
  }
  return "?";
}

// Recursive descent over the header text; every method leaves pos_ after what it read.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  // The whole header: one literal, then only padding (spaces, '\n').
  Literal parse() {
    skip_space();
    Literal value = parse_value(0);
    skip_space();
    if (pos_ != text_.size())
      error("unexpected " + show_char(text_[pos_]) + " after the header dict");
    return value;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(source_, "invalid header at byte " + std::to_string(pos_) + ": " + what);
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\n' || peek() == '\t' || peek() == '\r'))
      ++pos_;
  }

  Literal parse_value(int depth) {
    if (depth > kMaxNesting)
      error("values nested more than " + std::to_string(kMaxNesting) + " deep");
    // The parsed values take more memory than their text: cap their number, not just the bytes.
    if (++values_ > kMaxValues) error("more than " + std::to_string(kMaxValues) + " values");
    if (at_end()) error("the header ends in the middle of a value");
    char c = peek();
    if (c == '{') return parse_dict(depth);
    if (c == '(') return parse_sequence(depth, ')', Literal::Kind::Tuple);
    if (c == '[') return parse_sequence(depth, ']', Literal::Kind::List);
    if (c == '\'' || c == '"') return parse_string();
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return parse_integer();
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return parse_word();
    error("unexpected " + show_char(c));
  }

  Literal parse_dict(int depth) {
    Literal dict;
    dict.kind = Literal::Kind::Dict;
    ++pos_;  // '{'
    skip_space();
    while (at_end() || peek() != '}') {
      Literal key = parse_value(depth + 1);
      if (key.kind != Literal::Kind::String)
        error("dict keys must be strings, got " + kind_name(key.kind));
      for (std::size_t i = 0; i < dict.items.size(); i += 2)
        if (dict.items[i].text == key.text) error("key '" + key.text + "' appears twice");
      skip_space();
      if (at_end() || peek() != ':') error("expected ':' after the key '" + key.text + "'");
      ++pos_;
      skip_space();
      Literal value = parse_value(depth + 1);
      dict.items.push_back(std::move(key));
      dict.items.push_back(std::move(value));
      skip_space();
      if (!at_end() && peek() == ',') {
        ++pos_;
        skip_space();
      } else if (at_end() || peek() != '}') {
        error("expected ',' or '}' in the dict");
      }
    }
    ++pos_;  // '}'
    return dict;
  }

  // (a, b), (a,), () and [a, b]. As in Python, "(3)" is just 3, not a tuple.
  Literal parse_sequence(int depth, char close, Literal::Kind kind) {
    Literal seq;
    seq.kind = kind;
    bool saw_comma = false;
    ++pos_;  // '(' or '['
    skip_space();
    while (at_end() || peek() != close) {
      seq.items.push_back(parse_value(depth + 1));
      skip_space();
      if (!at_end() && peek() == ',') {
        saw_comma = true;
        ++pos_;
        skip_space();
      } else if (at_end() || peek() != close) {
        error(std::string("expected ',' or '") + close + "'");
      }
    }
    ++pos_;  // ')' or ']'
    if (kind == Literal::Kind::Tuple && seq.items.size() == 1 && !saw_comma) {
      Literal inner = std::move(seq.items[0]);
      return inner;
    }
    return seq;
  }

  // 'text' or "text"; a backslash takes the next character literally (\n, \t and \\ as in Python).
  Literal parse_string() {
    Literal str;
    str.kind = Literal::Kind::String;
    char quote = text_[pos_++];
    while (true) {
      if (at_end()) error("a string is not closed");
      char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\n') error("a string is not closed before the end of the line");
      if (c == '\\') {
        if (at_end()) error("a string is not closed");
        char escaped = text_[pos_++];
        c = escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
      }
      str.text += c;
    }
    return str;
  }

  // An integer such as 3, -1 or (written by Python 2) 3L.
  Literal parse_integer() {
    Literal number;
    number.kind = Literal::Kind::Integer;
    bool negative = peek() == '-';
    if (peek() == '-' || peek() == '+') ++pos_;
    if (at_end() || peek() < '0' || peek() > '9') error("expected digits after the sign");
    std::uint64_t magnitude = 0;
    const std::uint64_t limit = std::uint64_t(std::numeric_limits<std::int64_t>::max());
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      std::uint64_t digit = std::uint64_t(peek() - '0');
      if (magnitude > (limit - digit) / 10) error("an integer does not fit in 64 bits");
      magnitude = magnitude * 10 + digit;
      ++pos_;
    }
    if (!at_end() && (peek() == 'L' || peek() == 'l')) ++pos_;
    number.integer = negative ? -std::int64_t(magnitude) : std::int64_t(magnitude);
    return number;
  }

  Literal parse_word() {
    std::size_t start = pos_;
    while (!at_end() && ((peek() >= 'A' && peek() <= 'Z') || (peek() >= 'a' && peek() <= 'z') ||
                         (peek() >= '0' && peek() <= '9') || peek() == '_'))
      ++pos_;
    std::string word(text_.substr(start, pos_ - start));
    Literal value;
    if (word == "True" || word == "False") {
      value.kind = Literal::Kind::Boolean;
      value.boolean = word == "True";
    } else if (word == "None") {
      value.kind = Literal::Kind::None;
    } else {
      pos_ = start;
      error("unexpected word '" + (word.size() > 40 ? word.substr(0, 40) + "..." : word) + "'");
    }
    return value;
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  int values_ = 0;
};

// ---- the header's meaning --------------------------------------------------------------------

const Literal* find_key(const Literal& dict, const std::string& key) {
  for (std::size_t i = 0; i < dict.items.size(); i += 2)
    if (dict.items[i].text == key) return &dict.items[i + 1];
  return nullptr;
}

constexpr const char* kSupported = "'<f4' float32, '<f8' float64, '<i8' int64, '|b1' bool";

DType dtype_from_descr(const std::string& descr, const std::string& source) {
  // descr = byte order ('<' little, '>' or '!' big, '=' native, '|' not applicable) + type code.
  std::string order = descr.substr(0, 1), code = descr.size() > 1 ? descr.substr(1) : "";
  bool big_endian = order == ">" || order == "!";
  bool known_order = big_endian || order == "<" || order == "=" || order == "|";
  if (known_order && code == "b1") return DType::Bool;  // one byte: the order does not matter
  if (known_order && (code == "f4" || code == "f8" || code == "i8")) {
    if (big_endian)
      fail(source, "big-endian data ('" + descr +
                       "') is not supported (convert with arr.astype('<" + code + "'))");
    if (order != "|")
      return code == "f4" ? DType::Float32 : code == "f8" ? DType::Float64 : DType::Int64;
  }
  std::string shown = descr.size() > 40 ? descr.substr(0, 40) + "..." : descr;
  fail(source, "unsupported dtype '" + shown + "' (supported: " + kSupported +
                   "; convert with arr.astype(...))");
}

}  // namespace

std::string npy_descr(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "<f4";
    case DType::Float64:
      return "<f8";
    case DType::Int64:
      return "<i8";
    case DType::Bool:
      return "|b1";
  }
  throw std::logic_error("npy_descr: unknown dtype");
}

namespace {

// What the fixed-size start of a .npy file says: where the header lies.
struct Preamble {
  std::size_t size = 0;            // magic + version + header length field: 10 or 12 bytes
  std::uint64_t header_length = 0;
};

constexpr std::size_t kMaxPreamble = 12;

// Checks the magic, the version and the header length against `file_size`. `first_bytes` holds
// the file's first min(12, file_size) bytes: nothing beyond them is needed.
Preamble parse_preamble(std::string_view first_bytes, std::uint64_t file_size,
                        const std::string& source) {
  if (first_bytes.size() < kMagic.size() || first_bytes.substr(0, kMagic.size()) != kMagic)
    fail(source, "not a .npy file (it does not start with the magic bytes \\x93NUMPY)");
  if (first_bytes.size() < 8) fail(source, "truncated: the file ends inside the version bytes");
  unsigned major = static_cast<unsigned char>(first_bytes[6]),
           minor = static_cast<unsigned char>(first_bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    fail(source, "unsupported .npy format version " + std::to_string(major) + "." +
                     std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  Preamble preamble;
  std::size_t length_bytes = major == 1 ? 2 : 4;  // uint16 in 1.0, uint32 in 2.0 and 3.0
  preamble.size = 8 + length_bytes;
  if (first_bytes.size() < preamble.size)
    fail(source, "truncated: the file ends inside the header length");
  for (std::size_t i = 0; i < length_bytes; ++i)
    preamble.header_length |= std::uint64_t(static_cast<unsigned char>(first_bytes[8 + i]))
                              << (8 * i);
  if (preamble.header_length > kMaxHeaderBytes)
    fail(source, "header length " + std::to_string(preamble.header_length) +
                     " exceeds the limit of 1 MiB (a corrupt file?)");
  if (preamble.header_length > file_size - preamble.size)
    fail(source, "header length " + std::to_string(preamble.header_length) +
                     " goes beyond the end of the file (only " +
                     std::to_string(file_size - preamble.size) +
                     " bytes follow the length field)");
  return preamble;
}

// What the header says about the array, and where its data lies in the file.
struct NpyLayout {
  DType dtype = DType::Float32;
  Shape shape;
  std::uint64_t data_offset = 0, data_bytes = 0;
};

// Parses the header {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } and checks the
// data size it promises against the `file_size` bytes of the file.
NpyLayout parse_header(std::string_view header_text, const Preamble& preamble,
                       std::uint64_t file_size, const std::string& source) {
  Literal header = HeaderParser(header_text, source).parse();
  if (header.kind != Literal::Kind::Dict)
    fail(source, "the header is " + kind_name(header.kind) + ", expected a dict");
  for (std::size_t i = 0; i < header.items.size(); i += 2) {
    const std::string& key = header.items[i].text;
    if (key != "descr" && key != "fortran_order" && key != "shape")
      fail(source, "unexpected key '" + (key.size() > 40 ? key.substr(0, 40) + "..." : key) +
                       "' in the header (expected exactly 'descr', 'fortran_order', 'shape')");
  }
  const Literal* descr = find_key(header, "descr");
  const Literal* fortran_order = find_key(header, "fortran_order");
  const Literal* shape_literal = find_key(header, "shape");
  for (auto [value, key] : {std::pair{descr, "descr"}, std::pair{fortran_order, "fortran_order"},
                            std::pair{shape_literal, "shape"}})
    if (!value) fail(source, std::string("the header has no '") + key + "' key");

  NpyLayout layout;
  if (descr->kind == Literal::Kind::List)
    fail(source, "structured dtypes (records with named fields) are not supported");
  if (descr->kind != Literal::Kind::String)
    fail(source, "'descr' is " + kind_name(descr->kind) + ", expected a string such as '<f4'");
  layout.dtype = dtype_from_descr(descr->text, source);

  if (fortran_order->kind != Literal::Kind::Boolean)
    fail(source,
         "'fortran_order' is " + kind_name(fortran_order->kind) + ", expected True or False");
  if (fortran_order->boolean)
    fail(source, "Fortran-order arrays are not supported (save with np.ascontiguousarray)");

  if (shape_literal->kind != Literal::Kind::Tuple)
    fail(source,
         "'shape' is " + kind_name(shape_literal->kind) + ", expected a tuple such as (2, 3)");
  if (shape_literal->items.size() > kMaxDims)
    fail(source, "the shape has " + std::to_string(shape_literal->items.size()) +
                     " dims (at most " + std::to_string(kMaxDims) + " are supported)");
  Shape& shape = layout.shape;
  for (const Literal& size : shape_literal->items) {
    if (size.kind != Literal::Kind::Integer)
      fail(source, "'shape' holds " + kind_name(size.kind) + ", expected only integers");
    if (size.integer < 0)
      fail(source, "'shape' holds the negative size " + std::to_string(size.integer));
    shape.push_back(size.integer);
  }
  // itemsize times the product of the nonzero sizes must fit in int64, checked before each
  // multiplication; then numel * itemsize cannot overflow.
  std::uint64_t nonzero_bytes = dtype_size(layout.dtype);
  const std::uint64_t max_bytes = std::uint64_t(std::numeric_limits<std::int64_t>::max());
  for (std::int64_t size : shape) {
    if (size == 0) continue;
    if (nonzero_bytes > max_bytes / std::uint64_t(size))
      fail(source,
           "the shape " + shape_str(shape) + " is too large (its byte count overflows 64 bits)");
    nonzero_bytes *= std::uint64_t(size);
  }
  // An empty array's byte count is 0 whatever its other sizes, but its strides are not: (0, 2^60)
  // has a stride of 2^60 elements, 2^63 bytes as float64. The array must convert to every dtype
  // (8 bytes an element at most) without a stride overflowing (shape.hpp, layout_span_bytes).
  try {
    layout_span_bytes(shape, sizeof(double), "load_npy");
  } catch (const std::length_error&) {
    fail(source, "the shape " + shape_str(shape) +
                     " is too large (its byte strides overflow 64 bits for 8-byte elements)");
  }
  layout.data_bytes = shape_numel(shape) == 0 ? 0 : nonzero_bytes;
  layout.data_offset = preamble.size + preamble.header_length;
  std::string what = "shape " + shape_str(shape) + " " + dtype_name(layout.dtype);

  // ---- data: exactly numel * itemsize bytes after the header
  std::uint64_t available = file_size - layout.data_offset;
  if (layout.data_bytes > available)
    fail(source, "truncated: the header promises " + what + " (" +
                     std::to_string(layout.data_bytes) + " bytes of data) but only " +
                     std::to_string(available) + " bytes follow the header");
  if (layout.data_bytes < available)
    fail(source, std::to_string(available - layout.data_bytes) +
                     " unexpected bytes after the data (the header promises " + what + ", " +
                     std::to_string(layout.data_bytes) + " bytes)");
  return layout;
}

// Turns the raw bytes just read into a bool array into bools: any nonzero byte is true (a byte
// that is neither 0 nor 1 read as a bool is undefined behaviour). Bytes are read as unsigned char.
void normalize_bools(Array& array, std::uint64_t count) {
  unsigned char* bytes = static_cast<unsigned char*>(array.raw_data());
  for (std::uint64_t i = 0; i < count; ++i) bytes[i] = bytes[i] != 0 ? 1 : 0;
}

}  // namespace

Array parse_npy(std::string_view bytes, const std::string& source) {
  Preamble preamble = parse_preamble(bytes.substr(0, kMaxPreamble), bytes.size(), source);
  NpyLayout layout = parse_header(bytes.substr(preamble.size, preamble.header_length), preamble,
                                  bytes.size(), source);
  Array array(layout.shape, layout.dtype);
  if (layout.data_bytes > 0) {
    std::memcpy(array.raw_data(), bytes.data() + layout.data_offset, layout.data_bytes);
    if (layout.dtype == DType::Bool) normalize_bools(array, layout.data_bytes);
  }
  return array;
}

// The file is read in three bounded steps: the preamble (12 bytes at most), the header (at most
// 1 MiB, and never beyond the file), then, once the header's promise matches the file's size,
// the data straight into the new array. A file that is not .npy costs a 12-byte read.
Array load_npy(const std::string& path) {
  InputFile file(path, "load_npy");
  std::string first_bytes =
      file.read_string(0, static_cast<std::size_t>(std::min<std::uint64_t>(kMaxPreamble, file.size())));
  Preamble preamble = parse_preamble(first_bytes, file.size(), path);
  std::string header_text =
      file.read_string(preamble.size, static_cast<std::size_t>(preamble.header_length));
  NpyLayout layout = parse_header(header_text, preamble, file.size(), path);
  Array array(layout.shape, layout.dtype);
  if (layout.data_bytes > 0) {
    file.read_at(layout.data_offset, array.raw_data(), static_cast<std::size_t>(layout.data_bytes));
    if (layout.dtype == DType::Bool) normalize_bools(array, layout.data_bytes);
  }
  return array;
}

void save_npy(const std::string& path, const Array& array) {
  if (!array.defined())
    throw std::invalid_argument("save_npy: " + path + ": the array is undefined");
  Array host = array.to(kCPU).contiguous();

  // "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", as numpy writes it; a 1-d
  // shape needs the trailing comma of a 1-tuple: (3,).
  std::string shape = "(";
  for (std::size_t d = 0; d < host.shape().size(); ++d)
    shape += (d > 0 ? ", " : "") + std::to_string(host.shape()[d]);
  shape += host.dim() == 1 ? ",)" : ")";
  std::string header = "{'descr': '" + npy_descr(host.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";

  // Pad with spaces and end with '\n' so that the data starts at a multiple of 64 bytes. Version
  // 1.0 stores the header length in 2 bytes; a longer header needs version 2.0 (4 bytes).
  std::size_t preamble = 10;
  if (kMagic.size() + 2 + 2 + header.size() + 1 > 65535) preamble = 12;
  header += std::string(63 - (preamble + header.size()) % 64, ' ') + "\n";
  std::string head(kMagic);
  head += preamble == 10 ? '\x01' : '\x02';
  head += '\x00';
  for (std::size_t i = 0; i < preamble - 8; ++i) head += char((header.size() >> (8 * i)) & 0xff);
  head += header;

  std::size_t data_bytes = std::size_t(host.numel()) * dtype_size(host.dtype());
  std::string_view data(data_bytes > 0 ? static_cast<const char*>(host.raw_data()) : "",
                        data_bytes);
  write_file_atomic(path, {head, data}, "save_npy");
}

}  // namespace tensor
