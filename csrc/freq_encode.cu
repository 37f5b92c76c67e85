// CUDA kernel of the frequency encoding (see freq_encode.cpp for the layout and the numeric contract:
// each value is sin/cos of x * 2^k evaluated in double and rounded once to float).
#include <cuda_runtime.h>

#include <cstdint>

namespace {

__global__ void freq_encode_kernel(const float* __restrict__ x, float* __restrict__ out, int64_t rows,
                                   int64_t d, int n_bands, bool include_input) {
  const int64_t width = d * ((include_input ? 1 : 0) + 2 * static_cast<int64_t>(n_bands));
  const int64_t total = rows * width;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / width;
    int64_t j = i - r * width;
    const float* xr = x + r * d;
    if (include_input) {
      if (j < d) {
        out[i] = xr[j];
        continue;
      }
      j -= d;
    }
    const int64_t k = j / (2 * d);
    const int64_t rem = j - k * 2 * d;
    const bool is_cos = rem >= d;
    const double v = static_cast<double>(xr[is_cos ? rem - d : rem]) * ldexp(1.0, static_cast<int>(k));
    out[i] = static_cast<float>(is_cos ? cos(v) : sin(v));
  }
}

}  // namespace

int freq_encode_cuda_launch(const float* x, float* out, int64_t rows, int64_t d, int n_bands, bool include_input,
                            void* stream) {
  const int64_t total = rows * d * ((include_input ? 1 : 0) + 2 * static_cast<int64_t>(n_bands));
  if (total == 0) return 0;
  const int threads = 256;
  int64_t blocks = (total + threads - 1) / threads;
  if (blocks > 65535) blocks = 65535;  // grid-stride loop covers the rest
  freq_encode_kernel<<<static_cast<unsigned>(blocks), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, out, rows, d, n_bands, include_input);
  return static_cast<int>(cudaGetLastError());
}

const char* freq_encode_cuda_error_string(int err) { return cudaGetErrorString(static_cast<cudaError_t>(err)); }
