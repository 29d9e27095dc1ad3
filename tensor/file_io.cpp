// file_io.cpp — bounded reads and atomic writes of whole files (file_io.hpp), with POSIX calls so
// that every step (open, read, fsync, rename) reports its own errno.
#include "tensor/file_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace tensor {

namespace {

std::string file_error(const std::string& op, const std::string& path, const std::string& what) {
  return op + ": " + path + ": " + what;
}

std::string errno_text() { return std::strerror(errno); }

// The temporary a save by process `pid` writes before renaming it over `path`.
std::string temporary_name(const std::string& path, long pid) {
  return path + ".tmp." + std::to_string(pid);
}

}  // namespace

// ---- reading ------------------------------------------------------------------------------------

InputFile::InputFile(const std::string& path, const std::string& op) : path_(path), op_(op) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error(file_error(op, path, "cannot open (" + errno_text() + ")"));
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd_);
    throw std::runtime_error(file_error(op, path, "not a regular file"));
  }
  size_ = static_cast<std::uint64_t>(info.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_at(std::uint64_t offset, void* out, std::size_t count) const {
  char* bytes = static_cast<char*>(out);
  std::size_t done = 0;
  while (done < count) {
    ssize_t n = ::pread(fd_, bytes + done, count - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw std::runtime_error(file_error(op_, path_, "read failed (" + errno_text() + ")"));
    if (n == 0)  // the file shrank after we looked at its size
      throw std::runtime_error(file_error(
          op_, path_,
          "truncated while reading: expected " + std::to_string(count) + " bytes at offset " +
              std::to_string(offset) + ", the file ended after " + std::to_string(done)));
    done += static_cast<std::size_t>(n);
  }
}

std::string InputFile::read_string(std::uint64_t offset, std::size_t count) const {
  std::string text(count, '\0');
  read_at(offset, text.data(), count);
  return text;
}

std::string read_file(const std::string& path, const std::string& op) {
  InputFile file(path, op);
  return file.read_string(0, static_cast<std::size_t>(file.size()));
}

// ---- writing ------------------------------------------------------------------------------------

std::vector<std::string> remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  fs::path target(path);
  fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string digits = name.substr(prefix.size());
    // Only names this writer makes: a pid in decimal, as pid_t holds it.
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    long pid = std::stol(digits);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    // kill(pid, 0) sends nothing; ESRCH says no such process. EPERM means it exists.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_error;
    if (fs::remove(it->path(), remove_error)) removed.push_back(it->path().string());
  }
  return removed;
}

void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces,
                       const std::string& op) {
  // First, so that the space they hold is free for this save (a full disk is one way saves die).
  remove_stale_temporaries(path);
  std::string temp = temporary_name(path, static_cast<long>(::getpid()));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(file_error(
        op, path, "cannot create the temporary file " + temp + " (" + errno_text() + ")"));
  // On any failure: close, remove the temporary, and report; `path` was never touched.
  auto give_up = [&](const std::string& what) {
    std::string reason = errno_text();
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error(
        file_error(op, path, what + " (" + reason + "); the previous file is unchanged"));
  };
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {  // write() may write less than asked
      ssize_t n = ::write(fd, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) give_up("writing " + temp + " failed");
      piece.remove_prefix(std::size_t(n));
    }
  }
  if (::fsync(fd) != 0) give_up("flushing " + temp + " to disk failed");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) give_up("closing " + temp + " failed");
  if (::rename(temp.c_str(), path.c_str()) != 0)
    give_up("renaming " + temp + " to " + path + " failed");
  // Make the rename itself durable by flushing the directory entry too (best effort: some file
  // systems refuse to fsync a directory, and the data is safe either way).
  std::size_t slash = path.find_last_of('/');
  std::string directory = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace tensor
