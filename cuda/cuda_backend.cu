// cuda_backend.cu — the cuda device: the kernels of cuda/kernels/ compiled by nvcc, device memory
// through a caching allocator, and optionally cuBLAS for matmul. Built only by `make CUDA=1`.
//
// Without a usable GPU (no device, no driver, a driver too old for this runtime) nothing fails
// at start-up: the first allocation on cuda throws
//   device cuda: no usable CUDA GPU (cudaGetDeviceCount: <CUDA's reason>); ...
// which is what `--device cuda` reports on such a machine.
#include "cuda/device_runtime.cuh"  // first: the CUDA runtime and launch()

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "cuda/blas_layout.hpp"
#include "tensor/caching_allocator.hpp"
#include "cuda/kernels/kernel_backend.cuh"

#ifdef ATTN_HAVE_CUBLAS
#include <cublas_v2.h>
#endif

namespace tensor::cuda::device {

void check(cudaError_t status, const char* call, const std::string& context) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear the error, so that the next call does not report it again
  throw std::runtime_error(std::string("cuda: ") + call + " failed in " + context + ": " +
                           cudaGetErrorString(status) + " (" + cudaGetErrorName(status) + ")");
}

bool sync_after_each_launch() {
  static const bool sync = [] {
    const char* env = std::getenv("ATTN_CUDA_SYNC");
    return env != nullptr && env[0] == '1';
  }();
  return sync;
}

std::string describe_launch(const LaunchConfig& config) {
  auto dims = [](const dim3& d) {
    return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
  };
  return std::string(config.kernel) + "<<<" + dims(config.grid) + ", " + dims(config.block) +
         ">>>";
}

namespace {

void* raw_device_allocate(std::size_t nbytes) {
  void* block = nullptr;
  cudaError_t status = cudaMalloc(&block, nbytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;  // the caching allocator frees its cache and tries again
  }
  check(status, "cudaMalloc", "allocate(" + std::to_string(nbytes) + " bytes)");
  return block;
}

void raw_device_free(void* block) { check(cudaFree(block), "cudaFree", "empty_cache"); }

#ifdef ATTN_HAVE_CUBLAS
void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuda: ") + call + " failed in matmul: " +
                             cublasGetStatusString(status));
}
#endif

}  // namespace

class CudaBackend final : public KernelBackend {
 public:
  std::string name() const override { return "cuda"; }

  void* allocate(std::size_t nbytes) override {
    ensure_usable();
    void* block = allocator_.allocate(nbytes);
    if (block == nullptr)
      throw std::runtime_error("cuda: cudaMalloc failed in allocate(" + std::to_string(nbytes) +
                               " bytes): out of device memory (" +
                               std::to_string(allocator_.stats().bytes_in_use) +
                               " bytes held by tensors)");
    return block;
  }

  void deallocate(void* ptr, std::size_t nbytes) override { allocator_.deallocate(ptr, nbytes); }

  void copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) override {
    check(cudaMemcpy(device_dst, host_src, nbytes, cudaMemcpyHostToDevice), "cudaMemcpy",
          "copy_from_host (" + std::to_string(nbytes) + " bytes)");
  }

  void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) override {
    // cudaMemcpy waits for the kernels before it, so it also reports their errors.
    check(cudaMemcpy(host_dst, device_src, nbytes, cudaMemcpyDeviceToHost), "cudaMemcpy",
          "copy_to_host (" + std::to_string(nbytes) +
              " bytes; an error of an earlier kernel also shows up here: run with "
              "ATTN_CUDA_SYNC=1 to see which)");
  }

  MemoryStats memory_stats() override {
    tensor::CachingAllocator::Stats s = allocator_.stats();
    return MemoryStats{s.bytes_in_use, s.bytes_cached, s.raw_allocations, s.cache_hits};
  }
  void empty_cache() override { allocator_.release_cached(); }

 protected:
  bool matmul_fast_path(const Array& a, const Array& b, const Array& out) override;

 private:
  // The first allocation asks the runtime for a GPU; without one, this and every later call
  // throw the same clear error.
  void ensure_usable() {
    std::call_once(probe_, [this] {
      int count = 0;
      cudaError_t status = cudaGetDeviceCount(&count);
      if (status != cudaSuccess) {
        cudaGetLastError();
        unusable_ = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
      } else if (count == 0) {
        unusable_ = "cudaGetDeviceCount: 0 devices";
      }
    });
    if (!unusable_.empty())
      throw std::runtime_error("device cuda: no usable CUDA GPU (" + unusable_ +
                               "); use --device cuda-sim to run the CUDA kernels on the CPU");
  }

  std::once_flag probe_;
  std::string unusable_;  // why there is no GPU; empty when there is one
  tensor::CachingAllocator allocator_{raw_device_allocate, raw_device_free};
#ifdef ATTN_HAVE_CUBLAS
  std::once_flag cublas_once_;
  cublasHandle_t cublas_ = nullptr;
#endif
};

// matmul through cuBLAS when asked for (set_use_cublas / ATTN_CUBLAS=1) and the layout allows:
// float or double, out packed, and each of a and b with a unit stride in one of its two matrix
// dims and one uniform stride across its batch dims (cuda/blas_layout.hpp). Anything else: the
// tiled kernel.
bool CudaBackend::matmul_fast_path(const Array& a, const Array& b, const Array& out) {
#ifdef ATTN_HAVE_CUBLAS
  if (!use_cublas()) return false;
  if (out.dtype() != DType::Float32 && out.dtype() != DType::Float64) return false;
  BlasGemm plan;  // cuBLAS's A is our b and its B our a: see cuda/blas_layout.hpp
  if (!plan_blas_gemm(a, b, out, plan)) return false;
  std::call_once(cublas_once_, [this] { check_cublas(cublasCreate(&cublas_), "cublasCreate"); });
  const unsigned no_grid[3] = {0, 0, 0};
  record_launch("cuda", "cublas_gemm_strided_batched", no_grid, no_grid);
  const cublasOperation_t op_a = plan.a.transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = plan.b.transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (out.dtype() == DType::Float32) {
    const float one = 1, zero = 0;
    check_cublas(cublasSgemmStridedBatched(cublas_, op_a, op_b, plan.m, plan.n, plan.k, &one,
                                           b.data<float>(), plan.a.ld, plan.a.batch_stride,
                                           a.data<float>(), plan.b.ld, plan.b.batch_stride, &zero,
                                           out.data<float>(), plan.ldc, plan.stride_c,
                                           plan.batches),
                 "cublasSgemmStridedBatched");
  } else {
    const double one = 1, zero = 0;
    check_cublas(cublasDgemmStridedBatched(cublas_, op_a, op_b, plan.m, plan.n, plan.k, &one,
                                           b.data<double>(), plan.a.ld, plan.a.batch_stride,
                                           a.data<double>(), plan.b.ld, plan.b.batch_stride, &zero,
                                           out.data<double>(), plan.ldc, plan.stride_c,
                                           plan.batches),
                 "cublasDgemmStridedBatched");
  }
  return true;
#else
  (void)a, (void)b, (void)out;
  return false;
#endif
}

namespace {

// Never destroyed: tensors that outlive main() (statics) still free their memory through it.
CudaBackend& cuda_backend() {
  static CudaBackend* instance = new CudaBackend;
  return *instance;
}

// Registers cuda with tensor::backend() at start-up (no CUDA call happens here). As for
// cuda-sim, the Makefile links libattn.a with --whole-archive so that this object is kept.
const bool registered = [] {
  register_backend(DeviceType::CUDA, &cuda_backend());
  return true;
}();

}  // namespace

}  // namespace tensor::cuda::device
