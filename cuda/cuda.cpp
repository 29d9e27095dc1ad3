// cuda.cpp — the parts of cuda.hpp that do not depend on the target: the launch trace, the
// cuBLAS switch, the checks of fused_attention, and the BLAS layout plan (blas_layout.hpp).
#include "cuda/cuda.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "cuda/blas_layout.hpp"
#include "tensor/shape.hpp"

namespace tensor::cuda {

namespace {

struct Trace {
  std::mutex mutex;
  std::atomic<bool> on{false};
  std::vector<LaunchRecord> records;
};

Trace& trace() {
  static Trace instance;
  return instance;
}

std::atomic<int>& cublas_flag() {  // -1: not read from the environment yet
  static std::atomic<int> flag{-1};
  return flag;
}

}  // namespace

std::string LaunchRecord::str() const {
  auto dims = [](const unsigned d[3]) {
    return "(" + std::to_string(d[0]) + ", " + std::to_string(d[1]) + ", " +
           std::to_string(d[2]) + ")";
  };
  return kernel + "  grid " + dims(grid) + "  block " + dims(block);
}

void start_launch_trace() {
  std::lock_guard<std::mutex> lock(trace().mutex);
  trace().records.clear();
  trace().on = true;
}

std::vector<LaunchRecord> stop_launch_trace() {
  std::lock_guard<std::mutex> lock(trace().mutex);
  trace().on = false;
  return std::move(trace().records);
}

void record_launch(const char* device, const char* kernel, const unsigned grid[3],
                   const unsigned block[3]) {
  if (!trace().on.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(trace().mutex);
  trace().records.push_back(
      LaunchRecord{device, kernel, {grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}});
}

void set_use_cublas(bool use) { cublas_flag().store(use ? 1 : 0); }

bool use_cublas() {
  int flag = cublas_flag().load();
  if (flag < 0) {
    const char* env = std::getenv("ATTN_CUBLAS");
    flag = env != nullptr && env[0] == '1' ? 1 : 0;
    cublas_flag().store(flag);
  }
  return flag == 1;
}

namespace {
KernelBackendBase& kernel_backend(Device device, const char* op) {
  auto* kernels = dynamic_cast<KernelBackendBase*>(&backend(device));
  if (kernels == nullptr)
    throw std::invalid_argument(std::string(op) + ": runs on cuda or cuda-sim, got " +
                                device.str());
  return *kernels;
}
}  // namespace

MemoryStats memory_stats(Device device) {
  return kernel_backend(device, "memory_stats").memory_stats();
}

void empty_cache(Device device) { kernel_backend(device, "empty_cache").empty_cache(); }

Array fused_attention(const Array& q, const Array& k, const Array& v, double scale) {
  auto fail = [](const std::string& message) {
    return std::invalid_argument("fused_attention: " + message);
  };
  if (!q.defined() || !k.defined() || !v.defined()) throw fail("got an undefined tensor");
  if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3)
    throw fail("expects q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], got " + shape_str(q.shape()) +
               ", " + shape_str(k.shape()) + ", " + shape_str(v.shape()));
  if (k.size(0) != q.size(0) || v.size(0) != q.size(0) || k.size(2) != q.size(2) ||
      v.size(1) != k.size(1))
    throw fail("shapes do not fit: q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) +
               ", v " + shape_str(v.shape()) + " (need q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv])");
  if (k.size(1) > 1024 || k.size(1) == 0)
    throw fail("needs 1 to 1024 keys (the scores of a row live in shared memory), got " +
               std::to_string(k.size(1)));
  if (q.device() != k.device() || q.device() != v.device())
    throw fail("tensors are on different devices");
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype() || !is_floating(q.dtype()))
    throw fail("expects q, k and v of one float dtype");
  KernelBackendBase& kernels = kernel_backend(q.device(), "fused_attention");
  Array out({q.size(0), q.size(1), v.size(2)}, q.dtype(), q.device());
  if (out.numel() > 0)
    kernels.fused_attention(q.contiguous(), k.contiguous(), v.contiguous(), scale, out);
  return out;
}

// ---- BLAS layout ----------------------------------------------------------------------------------

namespace {

// The single stride that steps through the flattened batch dims of x, if there is one (true for
// packed batches, and for broadcast ones: stride 0).
bool uniform_batch_stride(const Array& x, std::int64_t batch_dims, long long& stride) {
  stride = 0;
  long long expected = -1;  // the stride the next outer dim needs to continue the run
  for (std::int64_t d = batch_dims - 1; d >= 0; --d) {
    const long long size = x.shape()[d], s = x.strides()[d];
    if (size == 1) continue;
    if (expected < 0) {
      stride = s;
      expected = s * size;
    } else if (s == expected) {
      expected *= size;
    } else {
      return false;
    }
  }
  return true;
}

// Our row-major matrix X [R, S] (the last two dims of x, strides rs and cs) as a BLAS operand
// that acts as Xᵀ, or false when its layout does not fit:
//   cs == 1: X[r, s] sits at r*rs + s, which read column-major is an [S, R] matrix with leading
//            dimension rs: Xᵀ itself, no transpose.
//   rs == 1: X[r, s] sits at r + s*cs, column-major an [R, S] matrix with leading dimension cs:
//            X, which the transpose op turns into Xᵀ.
// A dim of size 1 has an arbitrary stride, so it counts as a unit stride.
bool as_transposed(const Array& x, std::int64_t batch_dims, BlasOperand& result) {
  const long long R = x.size(-2), S = x.size(-1);
  const long long rs = x.strides()[batch_dims], cs = x.strides()[batch_dims + 1];
  long long stored_rows;
  if (cs == 1 || S == 1) {
    result.transpose = false;
    result.ld = R == 1 ? S : rs;
    stored_rows = S;
  } else if (rs == 1 || R == 1) {
    result.transpose = true;
    result.ld = S == 1 ? R : cs;
    stored_rows = R;
  } else {
    return false;
  }
  if (result.ld < std::max<long long>(1, stored_rows)) return false;  // BLAS's rule for ld
  return uniform_batch_stride(x, batch_dims, result.batch_stride);
}

}  // namespace

bool plan_blas_gemm(const Array& a, const Array& b, const Array& out, BlasGemm& plan) {
  if (out.dim() < 2 || !out.is_contiguous()) return false;
  const std::int64_t batch_dims = out.dim() - 2;
  if (!as_transposed(b, batch_dims, plan.a) || !as_transposed(a, batch_dims, plan.b)) return false;
  plan.m = out.size(-1);
  plan.n = out.size(-2);
  plan.k = a.size(-1);
  plan.ldc = std::max<long long>(1, plan.m);
  plan.stride_c = plan.m * plan.n;
  plan.batches = 1;
  for (std::int64_t d = 0; d < batch_dims; ++d) plan.batches *= out.shape()[d];
  return true;
}

}  // namespace tensor::cuda
