// make_seeds.cpp — writes the starting corpus of the fuzzers: a few valid .npy and safetensors
// files (every dtype, 0-d, empty and 3-d arrays, metadata), written by this library's own
// writers plus .npy versions 2.0 and 3.0 built by hand. libFuzzer mutates these, so it reaches
// deep into the parsers from the first second.
//   build/fuzz/make_seeds DIR   ->  DIR/npy/*.npy, DIR/safetensors/*.safetensors
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "tensor/safetensors.hpp"
#include "tensor/factory.hpp"
#include "tensor/npy.hpp"

namespace {

// A .npy file of version `major` built by hand: magic, version, header length (2 or 4 bytes),
// the dict padded to a multiple of 64 bytes, the data.
std::string npy_by_hand(int major, const std::string& dict, const std::string& data) {
  std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict + std::string(63 - (preamble + dict.size()) % 64, ' ') + "\n";
  std::string file = std::string("\x93NUMPY", 6) + char(major) + '\0';
  for (std::size_t i = 0; i < preamble - 8; ++i) file += char((header.size() >> (8 * i)) & 0xff);
  return file + header + data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir / "npy");
  std::filesystem::create_directories(dir / "safetensors");
  auto npy = [&](const std::string& name) { return (dir / "npy" / name).string(); };
  auto st = [&](const std::string& name) { return (dir / "safetensors" / name).string(); };
  using namespace tensor;

  Array matrix = arange(0.0, 6.0, 1.0, DType::Float32).view({2, 3});
  Array cube = arange(0.0, 24.0, 1.0, DType::Float64).view({2, 3, 4});
  Array ids = from_vector(std::vector<std::int64_t>{-1, 0, 1LL << 40});
  Array mask = from_vector(std::vector<bool>{true, false, true, true});
  Array zero_d = scalar(2.5, DType::Float64);
  Array empty = zeros({0, 3});

  save_npy(npy("f4_2x3.npy"), matrix);
  save_npy(npy("f8_2x3x4.npy"), cube);
  save_npy(npy("i8_3.npy"), ids);
  save_npy(npy("b1_4.npy"), mask);
  save_npy(npy("f8_0d.npy"), zero_d);
  save_npy(npy("f4_empty.npy"), empty);
  std::ofstream(npy("v2_i8.npy"), std::ios::binary) << npy_by_hand(
      2, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\x07'));
  std::ofstream(npy("v3_f4.npy"), std::ios::binary)
      << npy_by_hand(3, "{\"shape\": (1L, 1L), \"descr\": \"<f4\", \"fortran_order\": False}",
                     std::string(4, '\0'));

  tensor::save_safetensors(st("model.safetensors"),
                       {{"layer.weight", matrix},
                        {"layer.bias", from_vector(std::vector<float>{1, 2})},
                        {"ids", ids},
                        {"mask", mask}},
                       {{"step", "100"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}});
  tensor::save_safetensors(st("shapes.safetensors"),
                       {{"scalar", zero_d}, {"empty", empty}, {"cube", cube}});
  tensor::save_safetensors(st("empty.safetensors"), {});
  std::cout << "seeds written to " << dir.string() << "\n";
  return 0;
}
