// CUDA part of the dense-point search (motionseg_trt._C_medoid.medoid_cuda): exact sums
// S(i) = sum_j |p_i - p_j| for a batch of candidates. The pruning stays on the host (medoid.cpp); only
// the O(N) sums, the expensive part, run here.
//
// Numeric contract (see engine/ops/medoid_search.py): float32 inputs promoted to double, d = sqrt(dx*dx + dy*dy)
// with dx = x_j - x_i, summed sequentially in index order. One thread per candidate keeps the order
// sequential, and the _rn intrinsics forbid FMA contraction, so every sum has the CPU's exact bits.
#include <cuda_runtime.h>

#include <cstdint>

namespace {

struct DeviceState {
  float* xy = nullptr;  // [n, 2] on the device
  int64_t n = 0;
  int64_t* idx = nullptr;
  double* out = nullptr;
  int64_t capacity = 0;
};

__global__ void exact_sums_kernel(const float* __restrict__ xy, int64_t n, const int64_t* __restrict__ idx,
                                  int64_t k, double* __restrict__ out) {
  const int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (q >= k) return;
  const int64_t i = idx[q];
  const double xi = static_cast<double>(xy[2 * i]), yi = static_cast<double>(xy[2 * i + 1]);
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    // every thread reads the same j at the same time: a broadcast from the cache
    const double dx = __dsub_rn(static_cast<double>(__ldg(xy + 2 * j)), xi);
    const double dy = __dsub_rn(static_cast<double>(__ldg(xy + 2 * j + 1)), yi);
    s = __dadd_rn(s, __dsqrt_rn(__dadd_rn(__dmul_rn(dx, dx), __dmul_rn(dy, dy))));
  }
  out[q] = s;
}

}  // namespace

int medoid_cuda_sums(const float* xy_host, int64_t n, const int64_t* idx_host, int64_t k, double* out_host,
                     void** device_state) {
  cudaError_t err = cudaSuccess;
  auto* st = static_cast<DeviceState*>(*device_state);
  if (st == nullptr) {  // first batch of this search: upload the points once
    st = new DeviceState();
    *device_state = st;
    st->n = n;
    if ((err = cudaMalloc(&st->xy, sizeof(float) * 2 * n)) != cudaSuccess) return static_cast<int>(err);
    if ((err = cudaMemcpy(st->xy, xy_host, sizeof(float) * 2 * n, cudaMemcpyHostToDevice)) != cudaSuccess)
      return static_cast<int>(err);
  }
  if (k > st->capacity) {
    cudaFree(st->idx);
    cudaFree(st->out);
    st->idx = nullptr;
    st->out = nullptr;
    st->capacity = k;
    if ((err = cudaMalloc(&st->idx, sizeof(int64_t) * k)) != cudaSuccess) return static_cast<int>(err);
    if ((err = cudaMalloc(&st->out, sizeof(double) * k)) != cudaSuccess) return static_cast<int>(err);
  }
  if ((err = cudaMemcpy(st->idx, idx_host, sizeof(int64_t) * k, cudaMemcpyHostToDevice)) != cudaSuccess)
    return static_cast<int>(err);
  const int threads = 128;
  const int64_t blocks = (k + threads - 1) / threads;
  exact_sums_kernel<<<static_cast<unsigned>(blocks), threads>>>(st->xy, st->n, st->idx, k, st->out);
  if ((err = cudaGetLastError()) != cudaSuccess) return static_cast<int>(err);
  err = cudaMemcpy(out_host, st->out, sizeof(double) * k, cudaMemcpyDeviceToHost);
  return static_cast<int>(err);
}

void medoid_cuda_release(void* device_state) {
  auto* st = static_cast<DeviceState*>(device_state);
  if (st == nullptr) return;
  cudaFree(st->xy);
  cudaFree(st->idx);
  cudaFree(st->out);
  delete st;
}

int medoid_cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

const char* medoid_cuda_error_string(int err) { return cudaGetErrorString(static_cast<cudaError_t>(err)); }
