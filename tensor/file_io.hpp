// file_io.hpp — reading files a piece at a time, and replacing a file all at once: what the .npy
// and safetensors readers and writers (npy.hpp, safetensors.hpp) are built on.
//
// Readers of untrusted files follow one discipline: open, learn the size, read the small fixed
// part (magic, header length, header), check what it promises against the size, and only then
// allocate and read the data. A 3 GiB file that is not what its name says costs a few bytes of
// reading, not 3 GiB of memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tensor {

// A regular file open for reading. Every error names `op` and the path:
// "load_npy: data/x.npy: cannot open (No such file or directory)".
class InputFile {
 public:
  InputFile(const std::string& path, const std::string& op);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }  // bytes, as fstat saw them at open
  // Reads exactly `count` bytes at `offset` into `out`; throws if the file holds fewer.
  void read_at(std::uint64_t offset, void* out, std::size_t count) const;
  // The same, into a new string.
  std::string read_string(std::uint64_t offset, std::size_t count) const;

 private:
  std::string path_, op_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// The whole content of a regular file. Throws "<op>: <path>: cannot open (...)" and the like.
std::string read_file(const std::string& path, const std::string& op);

// Writes `pieces` one after another so that `path` is replaced all at once or not at all: the
// bytes go to "<path>.tmp.<pid>", are flushed to the disk (fsync), and only then is the temporary
// renamed over `path` (rename is atomic within a file system). On any failure the temporary is
// removed, `path` keeps its previous content, and "<op>: <path>: ..." is thrown.
// Before writing, temporaries of `path` left by saves that were killed (a process that no longer
// exists) are removed: see remove_stale_temporaries.
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces,
                       const std::string& op);

// Removes "<path>.tmp.<pid>" files whose <pid> is not a running process: what a save killed
// mid-way (SIGKILL, power loss) leaves behind. A temporary of a live process is kept, since that
// process may be saving right now (or, rarely, its pid was reused: the file then goes at a later
// save). Our own pid is live, so our own temporary is never touched here. Returns the names
// removed. Best effort: a temporary that cannot be removed is left and not reported.
std::vector<std::string> remove_stale_temporaries(const std::string& path);

}  // namespace tensor
