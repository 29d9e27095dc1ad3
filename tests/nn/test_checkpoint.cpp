// safetensors files and checkpoints: files built byte by byte from the format's specification
// (as another writer would make them), corrupt files that must be refused cleanly, atomic saves,
// strict all-or-nothing loading, and training that resumes from a checkpoint bit for bit.
#include <sys/resource.h>
#include <unistd.h>

#include <bit>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "nn/checkpoint.hpp"
#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_contains;
using testing::error_message;
using testing::read_bytes;
using testing::TempDir;

namespace {

// Little-endian bytes, written out by hand as the spec says.
std::string little_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += char((value >> (8 * i)) & 0xff);
  return out;
}
std::string f4_bytes(const std::vector<float>& values) {
  std::string out;
  for (float v : values) out += little_endian(std::bit_cast<std::uint32_t>(v), 4);
  return out;
}
std::string f8_bytes(const std::vector<double>& values) {
  std::string out;
  for (double v : values) out += little_endian(std::bit_cast<std::uint64_t>(v), 8);
  return out;
}
std::string i8_bytes(const std::vector<std::int64_t>& values) {
  std::string out;
  for (std::int64_t v : values) out += little_endian(std::uint64_t(v), 8);
  return out;
}

// A safetensors file: 8-byte header length, the JSON header padded with spaces to a multiple of
// 8 bytes (as the reference writer does), then the data buffer.
std::string safetensors_file(std::string json, const std::string& data) {
  json.append((8 - json.size() % 8) % 8, ' ');
  return little_endian(json.size(), 8) + json + data;
}

// The data of one F32 tensor [n] at [begin, end) — the building block of the corrupt files.
std::string f32_entry(const std::string& name, std::int64_t n, std::uint64_t begin,
                      std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(n) +
         "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

std::string parse_error(const std::string& bytes) {
  return error_message([&] { parse_safetensors(bytes, "bad.safetensors"); });
}

// A small MLP; `seed` fixes its initial weights.
std::shared_ptr<Sequential> make_mlp(std::uint64_t seed) {
  Generator gen(seed);
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
      std::make_shared<Linear>(4, 16, true, gen), std::make_shared<ReLU>(),
      std::make_shared<LayerNorm>(16), std::make_shared<Linear>(16, 2, true, gen)});
}

// One optimisation step of `model` on (x, y) with the mean squared error; returns the loss.
float train_step(Sequential& model, Optimizer& optimizer, const Tensor& x, const Tensor& y) {
  Tensor loss = autograd::mse_loss(model(x), y);
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return loss.data().item<float>();
}

std::vector<std::vector<double>> parameter_values(const Module& module) {
  std::vector<std::vector<double>> out;
  for (const auto& [name, tensor] : module.named_parameters())
    out.push_back(testing::values(tensor));
  return out;
}

// A module with a parameter and an int64 buffer, and one with a child named "optimizer".
class WithBuffer : public Module {
 public:
  WithBuffer() {
    weight = register_parameter("weight", Tensor(tensor::full({3}, 0.5)));
    table = register_buffer("table", Tensor(tensor::arange(4)));
  }
  std::string type_name() const override { return "WithBuffer"; }
  Tensor weight, table;
};

class ReservedName : public Module {
 public:
  ReservedName() { register_module("optimizer", std::make_shared<Linear>(2, 2, true)); }
  std::string type_name() const override { return "ReservedName"; }
};

}  // namespace

TEST_SUITE("files") {
  // ---- safetensors files ------------------------------------------------------------------------

  TEST_CASE("safetensors: a file made by another writer loads") {
    // Written by hand from the spec: metadata with escapes (\n, \", \u00e9 and a surrogate pair),
    // the header order different from the data order, padding spaces after the JSON.
    std::string json =
        R"({"__metadata__":{"format":"pt","note":"a \"quoted\" line\nbreak \u00e9 \ud83d\ude00"},)"
        R"("layer.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},)"
        R"("ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})";
    std::string bytes = safetensors_file(json, i8_bytes({-1, 1LL << 40}) + f4_bytes({1, 2, 3, 4}));
    SafetensorsFile file = parse_safetensors(bytes, "other.safetensors");
    REQUIRE(file.tensors.size() == 2);
    CHECK(file.tensors[0].first == "layer.weight");  // in the order of the header
    CHECK(file.tensors[0].second.shape() == Shape{2, 2});
    CHECK(file.tensors[0].second.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
    CHECK(file.tensors[1].first == "ids");
    CHECK(file.tensors[1].second.dtype() == DType::Int64);
    CHECK(file.tensors[1].second.to_vector<std::int64_t>() ==
          std::vector<std::int64_t>{-1, 1LL << 40});
    CHECK(file.metadata.size() == 2);
    CHECK(file.metadata["format"] == "pt");
    CHECK(file.metadata["note"] == "a \"quoted\" line\nbreak \xc3\xa9 \xf0\x9f\x98\x80");

    // Pretty-printed JSON, a 0-d F64, a BOOL (any nonzero byte is true), two empty tensors sharing
    // an offset, unknown extra fields in a tensor entry (ignored, as serde ignores them).
    std::string pretty = R"({
    "scale": {"dtype": "F64", "shape": [], "data_offsets": [0, 8], "extra": [1, {"x": null}]},
    "empty": {"dtype": "F32", "shape": [0, 3], "data_offsets": [8, 8]},
    "none": {"dtype": "I64", "shape": [2, 0], "data_offsets": [8, 8]},
    "mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [8, 11]}
  })";
    SafetensorsFile second = parse_safetensors(
        safetensors_file(pretty, f8_bytes({-0.5}) + std::string("\x01\x00\x05", 3)), "pretty");
    REQUIRE(second.tensors.size() == 4);
    CHECK(second.tensors[0].second.dim() == 0);
    CHECK(second.tensors[0].second.item() == -0.5);
    CHECK(second.tensors[1].second.shape() == Shape{0, 3});
    CHECK(second.tensors[2].second.shape() == Shape{2, 0});
    CHECK(second.tensors[3].second.to_vector<double>() == std::vector<double>{1, 0, 1});
    CHECK(second.metadata.empty());

    // An empty file in the format: "{}" and no data.
    CHECK(parse_safetensors(safetensors_file("{}", ""), "empty").tensors.empty());
  }

  TEST_CASE("safetensors: save then load gives back every dtype, shape, name and metadata") {
    TempDir dir;
    Array matrix = tensor::arange(0.0, 6.0, 1.0, DType::Float32).view({2, 3});
    NamedArrays tensors = {
        {"mask", tensor::from_vector(std::vector<bool>{true, false, true})},
        {"x", tensor::from_vector(std::vector<double>{1.0 / 3, -2e-308})},
        {"ids", tensor::from_vector(std::vector<std::int64_t>{-5, 1LL << 60})},
        {"w.t", matrix.t()},  // a non-contiguous view: saved in row-major order of [3, 2]
        {"zero_d", tensor::scalar(7.25f)},
        {"empty", tensor::zeros({0, 4})},
        {"caf\xc3\xa9 \"q\" \\", tensor::ones({1}, DType::Int64)},
    };
    std::map<std::string, std::string> metadata = {
        {"step", "100"}, {"config", "{\"d\": 4}\n\t\x01"}, {"", ""}};
    std::string path = dir.file("all.safetensors");
    save_safetensors(path, tensors, metadata);
    SafetensorsFile file = load_safetensors(path);
    REQUIRE(file.tensors.size() == tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      CAPTURE(tensors[i].first);
      CHECK(file.tensors[i].first == tensors[i].first);
      CHECK(file.tensors[i].second.dtype() == tensors[i].second.dtype());
      CHECK(file.tensors[i].second.shape() == tensors[i].second.shape());
      CHECK(file.tensors[i].second.to_vector<double>() == tensors[i].second.to_vector<double>());
    }
    CHECK(file.metadata == metadata);
    CHECK(dir.names() == std::vector<std::string>{"all.safetensors"});  // no temporary left

    // The layout: header length a multiple of 8, widest dtype first so every tensor is aligned.
    std::string bytes = read_bytes(path);
    std::uint64_t header_length = 0;
    for (int i = 0; i < 8; ++i)
      header_length |= std::uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    CHECK(header_length % 8 == 0);
    CHECK(bytes[8] == '{');
    std::string header = bytes.substr(8, header_length);
    check_contains(header, R"("x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]})");
    check_contains(header, R"("mask":{"dtype":"BOOL","shape":[3],"data_offsets":[)");
    check_contains(header, "\"caf\xc3\xa9 \\\"q\\\" \\\\\":{\"dtype\":\"I64\"");  // "café \"q\" \\"
  }

  TEST_CASE("safetensors: corrupt files are refused with a message that says what is wrong") {
    const std::string prefix = "load_safetensors: bad.safetensors: ";
    std::string data16 = f4_bytes({1, 2, 3, 4});
    std::string good = safetensors_file("{" + f32_entry("a", 4, 0, 16) + "}", data16);
    REQUIRE(parse_error(good).empty());

    // Truncated files.
    CHECK(parse_error("abc") ==
          prefix + "truncated: the file has 3 bytes, fewer than the 8 of the header length");
    CHECK(parse_error(good.substr(0, good.size() - 4)) ==
          prefix + "tensor 'a': data_offsets [0, 16] go beyond the data buffer (12 bytes)");
    for (std::size_t size = 0; size < good.size(); ++size) {  // cut anywhere: always a clean error
      CAPTURE(size);
      CHECK(parse_error(good.substr(0, size)).find(prefix) == 0);
    }

    // A header length beyond the file, or beyond any sane size.
    std::string long_header = good;
    long_header[0] = '\x00';
    long_header[1] = '\x01';  // 256
    CHECK(parse_error(long_header) == prefix +
                                          "header length 256 goes beyond the end of the file (only "
                                          "72 bytes follow the length field)");
    CHECK(parse_error(little_endian(1ULL << 40, 8) + "{}") ==
          prefix +
              "header length 1099511627776 exceeds the limit of 100000000 bytes (a corrupt file?)");
    CHECK(parse_error(little_endian(~0ULL, 8)).find("exceeds the limit") != std::string::npos);

    // Invalid JSON, each naming the byte where it goes wrong.
    check_contains(parse_error(safetensors_file(R"({"a":{"dtype":"F32",}})", "")),
                   "invalid JSON header at byte 20: expected a string key");
    check_contains(parse_error(safetensors_file(R"({"a" 1})", "")),
                   "invalid JSON header at byte 5: expected ':'");
    check_contains(parse_error(safetensors_file(R"({"__metadata__":{})", "")), "expected '}'");
    check_contains(parse_error(safetensors_file(R"({"a":"\x"})", "")), "invalid escape \\x");
    check_contains(parse_error(safetensors_file(R"({"a":"\ud800"})", "")), "lone high surrogate");
    check_contains(parse_error(safetensors_file(R"({"a":"\udc00"})", "")), "lone low surrogate");
    check_contains(parse_error(safetensors_file("{\"a\":\"tab\there\"}", "")), "control character");
    check_contains(parse_error(safetensors_file(R"({"a":{"x":01}})", "")), "expected '}'");
    check_contains(parse_error(safetensors_file(R"({"a":{"x":-}})", "")), "invalid number");
    check_contains(parse_error(safetensors_file(R"({"a":{"x":tru}})", "")), "expected a value");
    check_contains(parse_error(safetensors_file(R"({"a":{"x":[1,{"y":"z","y":2}]}})", "")),
                   "duplicate key \"y\"");
    check_contains(parse_error(safetensors_file("", "")),
                   "the header is empty, expected a JSON object");
    check_contains(parse_error(safetensors_file(R"({} {})", "")),
                   "unexpected text after the JSON object");
    check_contains(parse_error(safetensors_file(R"([1, 2])", "")),
                   "the header is an array, expected a JSON object");
    check_contains(parse_error(safetensors_file("{\"\xff\":1}", "")),
                   "the header is not valid UTF-8 (byte 2)");
    check_contains(parse_error(safetensors_file("{\"\xed\xa0\x80\":1}", "")),
                   "not valid UTF-8");  // a surrogate
    check_contains(parse_error(safetensors_file(
                       "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", "")),
                   "nested more than 64 deep");

    // Offsets: overlapping, out of range, reversed, leaving holes or trailing bytes.
    std::string data24 = f4_bytes({1, 2, 3, 4, 5, 6});
    CHECK(parse_error(safetensors_file(
              "{" + f32_entry("a", 4, 0, 16) + "," + f32_entry("b", 4, 8, 24) + "}", data24)) ==
          prefix + "tensors 'a' and 'b' overlap (bytes [0, 16) and [8, 24) of the data buffer)");
    CHECK(
        parse_error(safetensors_file("{" + f32_entry("a", 4, 0, 16) + "}", data16.substr(0, 8))) ==
        prefix + "tensor 'a': data_offsets [0, 16] go beyond the data buffer (8 bytes)");
    CHECK(parse_error(safetensors_file("{" + f32_entry("a", 4, 1ULL << 63, 1ULL << 63) + "}", ""))
              .find("go beyond the data buffer") != std::string::npos);
    CHECK(parse_error(safetensors_file("{" + f32_entry("a", 4, 16, 0) + "}", data16)) ==
          prefix + "tensor 'a': data_offsets [16, 0] end before they begin");
    CHECK(parse_error(safetensors_file(
              "{" + f32_entry("a", 2, 0, 8) + "," + f32_entry("b", 2, 16, 24) + "}", data24)) ==
          prefix +
              "bytes [8, 16) of the data buffer belong to no tensor (the format allows no holes)");
    CHECK(parse_error(safetensors_file("{" + f32_entry("a", 4, 0, 16) + "}", data24)) ==
          prefix +
              "bytes [16, 24) at the end of the data buffer belong to no tensor (the format allows "
              "no holes)");
    CHECK(parse_error(safetensors_file(
              "{" + f32_entry("a", 4, 0, 16) + "," + f32_entry("b", 0, 8, 8) + "}", data16)) ==
          prefix + "tensors 'a' and 'b' overlap (bytes [0, 16) and [8, 8) of the data buffer)");

    // dtype and shape that disagree with the byte count; unknown and unsupported dtypes.
    CHECK(parse_error(safetensors_file(
              R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
              data24.substr(0, 20))) == prefix +
                                            "tensor 'a': data_offsets [0, 20] hold 20 bytes but "
                                            "dtype F32 and shape [2, 3] need 24");
    CHECK(parse_error(safetensors_file(R"({"a":{"dtype":"F64","shape":[4],"data_offsets":[0,16]}})",
                                       data16)) ==
          prefix +
              "tensor 'a': data_offsets [0, 16] hold 16 bytes but dtype F64 and shape [4] need 32");
    CHECK(parse_error(safetensors_file(R"({"a":{"dtype":"X9","shape":[4],"data_offsets":[0,16]}})",
                                       data16)) ==
          prefix + "tensor 'a' has unknown dtype \"X9\" (supported: F32, F64, I64, BOOL)");
    CHECK(parse_error(safetensors_file(R"({"a":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}})",
                                       data16)) ==
          prefix +
              "tensor 'a' has dtype F16, which is not supported (supported: F32, F64, I64, BOOL)");
    check_contains(
        parse_error(safetensors_file(
            R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", "")),
        "tensor 'a': shape [4294967296, 4294967296] is too large (its byte count overflows 64 "
        "bits)");
    check_contains(parse_error(safetensors_file(
                       R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "")),
                   "\"shape\" must hold only non-negative integers, got -1");
    check_contains(parse_error(safetensors_file(
                       R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,0]}})", "")),
                   "\"shape\" must hold only non-negative integers, got 2.5");
    check_contains(
        parse_error(safetensors_file(
            R"({"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}})", "")),
        "got 99999999999999999999");
    std::string ones_65;  // a shape of 65 ones: one element, but more dims than anything real
    for (int i = 0; i < 64; ++i) ones_65 += "1,";
    check_contains(parse_error(safetensors_file(R"({"a":{"dtype":"F32","shape":[)" + ones_65 +
                                                    R"(1],"data_offsets":[0,4]}})",
                                                data16.substr(0, 4))),
                   "\"shape\" must hold only non-negative integers, got more than 64 values");
    check_contains(parse_error(safetensors_file(
                       R"({"a":{"dtype":"F32","shape":"4","data_offsets":[0,16]}})", data16)),
                   "tensor 'a': \"shape\" is a string, expected an array");
    check_contains(parse_error(safetensors_file(
                       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", data16)),
                   "\"data_offsets\" must be [begin, end]");
    check_contains(parse_error(safetensors_file(R"({"a":{"dtype":"F32","shape":[4]}})", data16)),
                   "tensor 'a' lacks \"data_offsets\"");
    check_contains(parse_error(safetensors_file(R"({"a":[1,2]})", "")),
                   "tensor 'a' is an array, expected an object");

    // Duplicate names, and metadata that is not a map of strings.
    check_contains(
        parse_error(safetensors_file(
            "{" + f32_entry("a", 2, 0, 8) + "," + f32_entry("a", 2, 8, 16) + "}", data16)),
        "duplicate key \"a\"");
    check_contains(parse_error(safetensors_file(R"({"__metadata__":{"step":5}})", "")),
                   "metadata \"step\" is a number, expected a string");
    check_contains(parse_error(safetensors_file(R"({"__metadata__":["x"]})", "")),
                   "\"__metadata__\" is an array, expected an object");
  }

  TEST_CASE("safetensors: the writer refuses what the format cannot hold") {
    TempDir dir;
    std::string path = dir.file("w.safetensors");
    auto message = [&](const NamedArrays& tensors) {
      return error_message([&] { save_safetensors(path, tensors); });
    };
    CHECK(message({{"a", tensor::ones({1})}, {"a", tensor::ones({2})}}) ==
          "save_safetensors: " + path + ": the name 'a' appears twice");
    check_contains(message({{"__metadata__", tensor::ones({1})}}), "reserved for the metadata");
    check_contains(message({{"a", Array()}}), "the array 'a' is undefined");
    check_contains(message({{"bad\xff", tensor::ones({1})}}), "is not valid UTF-8");
    CHECK(dir.names().empty());
    CHECK(error_message([&] { load_safetensors(dir.file("missing.safetensors")); }) ==
          "load_safetensors: " + dir.file("missing.safetensors") +
              ": cannot open (No such file or directory)");
  }

  TEST_CASE("safetensors: a save that fails half-way leaves the previous file intact") {
    TempDir dir;
    std::string path = dir.file("model.safetensors");
    save_safetensors(path, {{"w", tensor::ones({4})}}, {{"step", "1"}});
    std::string before = read_bytes(path);

    SUBCASE("the disk fills up in the middle of the data") {
      // Allow this process files of at most 4 KiB, as a full disk would: writing 1 MiB then fails
      // part-way with EFBIG (SIGXFSZ, which would kill the process, is ignored meanwhile).
      rlimit old_limit{};
      REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
      rlimit small = old_limit;
      small.rlim_cur = 4096;
      auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
      REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
      std::string message = error_message([&] {
        save_safetensors(path, {{"w", tensor::zeros({1 << 18})}});
      });
      setrlimit(RLIMIT_FSIZE, &old_limit);
      std::signal(SIGXFSZ, old_handler);
      check_contains(message, "save_safetensors: " + path + ": writing " + path + ".tmp.");
      check_contains(message, "failed (File too large); the previous file is unchanged");
    }
    SUBCASE("the temporary cannot be renamed over the target") {
      // A directory where the file should go: rename() fails after all the data was written.
      std::string blocked = dir.file("blocked");
      std::filesystem::create_directories(blocked + "/inside");
      std::string message = error_message([&] {
        save_safetensors(blocked, {{"w", tensor::zeros({8})}});
      });
      check_contains(message, "renaming " + blocked + ".tmp.");
      CHECK(std::filesystem::is_directory(blocked + "/inside"));
      std::filesystem::remove_all(blocked);
    }
    SUBCASE("the directory does not exist") {
      check_contains(error_message([&] {
                       save_safetensors(dir.file("no/dir/x"), {{"w", tensor::zeros({8})}});
                     }),
                     "cannot create the temporary file");
    }
    CHECK(read_bytes(path) == before);  // the last good file is still there, byte for byte
    CHECK(load_safetensors(path).metadata.at("step") == "1");
    CHECK(dir.names() == std::vector<std::string>{"model.safetensors"});  // no temporary left
  }

  // ---- models and checkpoints -------------------------------------------------------------------

  TEST_CASE(
      "checkpoint: a trained model saved and loaded into a fresh one gives identical outputs") {
    TempDir dir;
    Generator data_gen(5);
    Tensor x(tensor::randn({32, 4}, data_gen)), y(tensor::randn({32, 2}, data_gen));
    auto model = make_mlp(1);
    Adam optimizer(model->parameters(), 0.01);
    for (int step = 0; step < 5; ++step) train_step(*model, optimizer, x, y);
    save(*model, dir.file("mlp.safetensors"), {{"step", "5"}});

    auto fresh = make_mlp(2);  // other initial weights
    CHECK(fresh->operator()(x).to_vector<float>() != model->operator()(x).to_vector<float>());
    std::vector<Tensor> handles = fresh->parameters();  // as an optimizer would hold them
    std::map<std::string, std::string> metadata = load(*fresh, dir.file("mlp.safetensors"));
    CHECK(metadata == std::map<std::string, std::string>{{"step", "5"}});
    CHECK(fresh->operator()(x).to_vector<float>() ==
          model->operator()(x).to_vector<float>());  // bit for bit
    CHECK(parameter_values(*fresh) == parameter_values(*model));
    for (std::size_t i = 0; i < handles.size(); ++i)  // loaded in place: old handles see the values
      CHECK(testing::values(handles[i]) == testing::values(model->parameters()[i]));

    // The names are PyTorch's dotted paths.
    SafetensorsFile file = load_safetensors(dir.file("mlp.safetensors"));
    std::vector<std::string> names;
    for (const auto& [name, array] : file.tensors) names.push_back(name);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight",
                                            "3.bias"});
  }

  TEST_CASE("checkpoint: buffers are saved and loaded with the parameters") {
    TempDir dir;
    WithBuffer original;
    original.weight.data().fill_(2.5);
    original.table.data().fill_(9);
    save(original, dir.file("b.safetensors"));
    WithBuffer fresh;
    load(fresh, dir.file("b.safetensors"));
    CHECK(testing::values(fresh.weight) == std::vector<double>{2.5, 2.5, 2.5});
    CHECK(testing::values(fresh.table) == std::vector<double>{9, 9, 9, 9});
    CHECK(fresh.table.dtype() == DType::Int64);
  }

  TEST_CASE("checkpoint: load is strict, lists every problem at once, and changes nothing") {
    TempDir dir;
    std::string path = dir.file("mlp.safetensors");
    save(*make_mlp(1), path);

    // Same first layer; no LayerNorm at index 2; a wider last layer at 3; an extra layer at 4.
    Generator gen(3);
    Sequential other({std::make_shared<Linear>(4, 16, true, gen), std::make_shared<ReLU>(),
                      std::make_shared<ReLU>(), std::make_shared<Linear>(16, 3, true, gen),
                      std::make_shared<Linear>(3, 3, true, gen)});
    auto before = parameter_values(other);
    CHECK(error_message([&] { load(other, path); }) ==
          "load: " + path +
              ": the file does not match the model, nothing was loaded:\n"
              "  missing (in the model, not in the file): 4.weight, 4.bias\n"
              "  unexpected (in the file, not in the model): 2.bias, 2.weight\n"
              "  3.weight: shape [2, 16] in the file, [3, 16] in the model\n"
              "  3.bias: shape [2] in the file, [3] in the model");
    CHECK(parameter_values(other) == before);  // not even the matching first layer was loaded

    auto float64_model = make_mlp(1);
    float64_model->to(DType::Float64);
    check_contains(error_message([&] { load(*float64_model, path); }),
                   "0.weight: dtype float32 in the file, float64 in the model");

    check_contains(error_message([&] { load(other, dir.file("nothing.safetensors")); }),
                   "cannot open");
  }

  TEST_CASE("checkpoint: a model on another device is saved from it and loaded into it") {
    TempDir dir;
    std::vector<Device> devices{Device::parse("cuda-sim")};
    std::string why =
        error_message([] { Array probe({1}, DType::Float32, Device::parse("cuda")); });
    if (why.empty())
      devices.push_back(Device::parse("cuda"));
    else
      MESSAGE("checkpoints of a model on a real GPU not tested here: " << why);
    std::string path = dir.file("device.safetensors");
    for (Device device : devices) {
      CAPTURE(device.str());
      auto model = make_mlp(1);
      model->to(device);
      save(*model, path);
      auto fresh = make_mlp(2);
      fresh->to(device);
      load(*fresh, path);
      for (const auto& [name, tensor] : fresh->named_parameters()) CHECK(tensor.device() == device);
      CHECK(parameter_values(*fresh) == parameter_values(*model));
      auto on_cpu = make_mlp(3);  // and the same file into a model on the cpu
      load(*on_cpu, path);
      CHECK(parameter_values(*on_cpu) == parameter_values(*model));
    }
  }

  TEST_CASE(
      "checkpoint: resuming from a checkpoint gives the same losses as an uninterrupted run") {
    TempDir dir;
    Generator data_gen(11);
    Tensor x(tensor::randn({32, 4}, data_gen)), y(tensor::randn({32, 2}, data_gen));

    // 10 steps without interruption.
    std::vector<float> uninterrupted;
    {
      auto model = make_mlp(1);
      Adam optimizer(model->parameters(), 0.01);
      for (int step = 0; step < 10; ++step)
        uninterrupted.push_back(train_step(*model, optimizer, x, y));
    }

    // 5 steps, checkpoint, then a fresh process would build everything again and resume.
    std::vector<float> resumed;
    std::string path = dir.file("ckpt.safetensors");
    {
      auto model = make_mlp(1);
      Adam optimizer(model->parameters(), 0.01);
      for (int step = 0; step < 5; ++step) resumed.push_back(train_step(*model, optimizer, x, y));
      save_checkpoint(path, *model, &optimizer, {{"step", "5"}});
    }
    {
      auto model = make_mlp(99);  // different initial weights: the checkpoint must replace them
      Adam optimizer(model->parameters(), 0.01);
      std::map<std::string, std::string> metadata = load_checkpoint(path, *model, &optimizer);
      CHECK(metadata.at("step") == "5");
      CHECK(optimizer.steps_taken() == 5);
      for (int step = 5; step < 10; ++step) resumed.push_back(train_step(*model, optimizer, x, y));
    }
    CHECK(resumed == uninterrupted);  // bit for bit, steps 1..10 (6..10 after the restart)

    // Without the optimizer state, Adam restarts its moments and the losses drift apart.
    {
      auto model = make_mlp(99);
      Adam optimizer(model->parameters(), 0.01);
      load_checkpoint(path, *model, nullptr);                          // the weights only
      CHECK(train_step(*model, optimizer, x, y) == uninterrupted[5]);  // same weights: same loss...
      CHECK(train_step(*model, optimizer, x, y) != uninterrupted[6]);  // ...but a different step
    }
  }

  TEST_CASE("checkpoint: the optimizer part is checked before anything is loaded") {
    TempDir dir;
    Generator data_gen(2);
    Tensor x(tensor::randn({8, 4}, data_gen)), y(tensor::randn({8, 2}, data_gen));
    auto model = make_mlp(1);
    Adam optimizer(model->parameters(), 0.01);
    train_step(*model, optimizer, x, y);
    std::string path = dir.file("ckpt.safetensors");
    save_checkpoint(path, *model, &optimizer);

    // An optimizer over only the last layer's two parameters, the bias first.
    auto target = make_mlp(7);
    auto before = parameter_values(*target);
    auto params = target->parameters();
    Adam partial({params[5], params[4]}, 0.01);
    std::string message = error_message([&] { load_checkpoint(path, *target, &partial); });
    check_contains(message, "load_checkpoint: " + path +
                                ": the file does not match the model, nothing was loaded:");
    check_contains(
        message,
        "optimizer: 'optimizer.0.exp_avg' has shape [16, 4] but parameter 0 has shape [2]");
    check_contains(message,
                   "optimizer: 'optimizer.5.exp_avg_sq' belongs to parameter 5 but the optimizer "
                   "has 2 parameters");
    CHECK(parameter_values(*target) == before);
    CHECK(partial.steps_taken() == 0);

    // A file written by save() has no optimizer state; load() refuses a checkpoint's extra entries.
    save(*model, dir.file("weights.safetensors"));
    check_contains(error_message([&] {
                     load_checkpoint(dir.file("weights.safetensors"), *target, &optimizer);
                   }),
                   "'optimizer.steps' is missing");
    check_contains(error_message([&] { load(*target, path); }),
                   "unexpected (in the file, not in the model): optimizer.0.exp_avg, ");
    check_contains(error_message([&] { load(*target, path); }),
                   "load_checkpoint(path, model, nullptr)");
    CHECK(parameter_values(*target) == before);

    // The prefix "optimizer." is reserved for the optimizer's state.
    ReservedName reserved;
    check_contains(
        error_message([&] { save_checkpoint(dir.file("r.safetensors"), reserved, nullptr); }),
        "the prefix 'optimizer.' is reserved");
  }

}  // TEST_SUITE("files")
