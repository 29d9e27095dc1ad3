#include "tutorials/exercises/python/python_bridge.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace python_bridge {

namespace {

namespace fs = std::filesystem;

std::string environment(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// A version 1.0 .npy file of float32 values (or bool): magic, version, header length, a Python
// dict literal padded with spaces to a multiple of 64 bytes (ended by '\n'), then the raw values.
void write_npy(const fs::path& path, const Array& array) {
  std::string shape;
  for (std::int64_t size : array.shape) shape += std::to_string(size) + ", ";
  std::string header = std::string("{'descr': '") + (array.boolean ? "|b1" : "<f4") +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(length & 0xff)).put(static_cast<char>(length >> 8));
  out << header;
  if (array.boolean) {
    for (float value : array.values) out.put(value != 0.0f ? 1 : 0);
  } else {
    out.write(reinterpret_cast<const char*>(array.values.data()),
              static_cast<std::streamsize>(array.values.size() * sizeof(float)));
  }
  if (!out) throw std::runtime_error("python bridge: cannot write " + path.string());
}

// Reads what run_answer.py saves: version 1.0, '<f4', C order; the shape from the header.
Array read_npy(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto refuse = [&](const std::string& why) {
    return std::runtime_error("python bridge: " + path.string() + ": " + why);
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0 || bytes[6] != 1)
    throw refuse("not a version 1.0 .npy file");
  const std::size_t length = static_cast<unsigned char>(bytes[8]) |
                             (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  if (bytes.size() < 10 + length) throw refuse("truncated header");
  const std::string header = bytes.substr(10, length);
  if (header.find("'<f4'") == std::string::npos || header.find("False") == std::string::npos)
    throw refuse("expected C-order float32, got " + header);
  Array array;
  std::size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  for (std::string dim; std::getline(dims, dim, ',');)
    if (dim.find_first_not_of(' ') != std::string::npos) array.shape.push_back(std::stoll(dim));
  std::int64_t count = 1;
  for (std::int64_t size : array.shape) count *= size;
  if (bytes.size() != 10 + length + count * sizeof(float))
    throw refuse("data size differs from the shape");
  array.values.resize(static_cast<std::size_t>(count));
  std::memcpy(array.values.data(), bytes.data() + 10 + length, count * sizeof(float));
  return array;
}

}  // namespace

Array call_python(const std::string& function, const std::vector<Array>& inputs,
                  const std::vector<std::int64_t>& expected_shape) {
  const std::string answer = environment("ATTN_EXERCISE_PY", "");
  if (answer.empty() || !fs::is_regular_file(answer))
    throw std::runtime_error("python bridge: ATTN_EXERCISE_PY names no file ('" + answer +
                             "'): run make exercise NAME=<name> LANG=py");
  const std::string python = environment("ATTN_PYTHON", "/usr/bin/python3");
  const std::string runner =
      environment("ATTN_RUN_ANSWER", "tutorials/exercises/python/run_answer.py");
  // A fresh folder per call: the learner's result can never be a stale file.
  static int calls = 0;
  const fs::path folder =
      fs::temp_directory_path() /
      ("attn-exercise-" + std::to_string(::getpid()) + "-" + std::to_string(++calls));
  fs::remove_all(folder);
  fs::create_directories(folder);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    write_npy(folder / ("arg" + std::to_string(i) + ".npy"), inputs[i]);
  const std::string command = "'" + python + "' '" + runner + "' '" + answer + "' '" + function +
                              "' '" + folder.string() + "'";
  std::fflush(stdout);  // what the checker printed so far comes before Python's traceback
  const int status = std::system(command.c_str());
  if (status != 0) {
    fs::remove_all(folder);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : status;
    throw std::runtime_error(answer + ": " + function + "() failed in Python (" + python +
                             ", exit code " + std::to_string(code) + "; its message is above)");
  }
  Array result = read_npy(folder / "result.npy");
  fs::remove_all(folder);
  if (result.shape != expected_shape)
    throw std::runtime_error(answer + ": " + function + "() returned shape " +
                             shape_text(result.shape) + ", expected " + shape_text(expected_shape));
  return result;
}

}  // namespace python_bridge
