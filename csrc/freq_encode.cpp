// NeRF-style frequency encoding of the trajectory classifier (motionseg_trt._C_freq_encode).
//
// Same layout and numbers as the NumPy/PyTorch fallback in engine/ops/freq_encoding.py: for each row of
// D values x, the output row is [x, sin(f0 x), cos(f0 x), sin(f1 x), cos(f1 x), ...] with f_k = 2^k and
// every sin/cos block holding the D channels in order (the official channel order). Each value is
// computed in double precision and rounded once to the output type, so all implementations agree to the
// last bit wherever the platform's double sin/cos are within half a float ulp (always, in practice).
//
// When compiled together with csrc/freq_encode.cu (setup.py / CMakeLists.txt define
// MOTIONSEG_WITH_CUDA), `encode_cuda` runs the same encoding on device pointers (e.g. from
// torch.Tensor.data_ptr()) on a given CUDA stream.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

#ifdef MOTIONSEG_WITH_CUDA
// Defined in freq_encode.cu; returns a cudaError_t as int (0 = success).
int freq_encode_cuda_launch(const float* x, float* out, int64_t rows, int64_t d, int n_bands,
                            bool include_input, void* stream);
const char* freq_encode_cuda_error_string(int err);
#endif

namespace {

int64_t out_width(int64_t d, int n_bands, bool include_input) {
  return d * ((include_input ? 1 : 0) + 2 * static_cast<int64_t>(n_bands));
}

template <typename T>
void encode_rows(const T* x, T* out, int64_t rows, int64_t d, int n_bands, bool include_input) {
  const int64_t width = out_width(d, n_bands, include_input);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * d;
    T* o = out + r * width;
    if (include_input) {
      for (int64_t c = 0; c < d; ++c) o[c] = xr[c];
      o += d;
    }
    for (int k = 0; k < n_bands; ++k) {
      const double f = std::ldexp(1.0, k);  // 2^k: the product below is exact
      for (int64_t c = 0; c < d; ++c) o[c] = static_cast<T>(std::sin(static_cast<double>(xr[c]) * f));
      for (int64_t c = 0; c < d; ++c) o[d + c] = static_cast<T>(std::cos(static_cast<double>(xr[c]) * f));
      o += 2 * d;
    }
  }
}

template <typename T>
py::array_t<T> encode(py::array_t<T, py::array::c_style | py::array::forcecast> x, int n_bands,
                      bool include_input) {
  if (n_bands < 0) throw std::invalid_argument("n_bands must be >= 0");
  if (x.ndim() < 1) throw std::invalid_argument("freq_encode needs at least one axis (the encoded one)");
  const int64_t d = x.shape(x.ndim() - 1);
  const int64_t rows = d == 0 ? 0 : x.size() / d;
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  shape.back() = out_width(d, n_bands, include_input);
  py::array_t<T> out(shape);
  const T* src = x.data();
  T* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    encode_rows<T>(src, dst, rows, d, n_bands, include_input);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_C_freq_encode, m) {
  m.doc() = "NeRF-style frequency encoding (official SegAnyMo channel order)";
  m.def("encode", &encode<float>, py::arg("x"), py::arg("n_bands") = 10, py::arg("include_input") = true,
        "float32 [..., D] -> [..., D*(include_input + 2*n_bands)]");
  m.def("encode", &encode<double>, py::arg("x"), py::arg("n_bands") = 10, py::arg("include_input") = true,
        "float64 [..., D] -> [..., D*(include_input + 2*n_bands)]");
#ifdef MOTIONSEG_WITH_CUDA
  m.attr("with_cuda") = true;
  m.def(
      "encode_cuda",
      [](std::uintptr_t x_ptr, std::uintptr_t out_ptr, int64_t rows, int64_t d, int n_bands, bool include_input,
         std::uintptr_t stream) {
        const int err = freq_encode_cuda_launch(reinterpret_cast<const float*>(x_ptr), reinterpret_cast<float*>(out_ptr),
                                                rows, d, n_bands, include_input, reinterpret_cast<void*>(stream));
        if (err != 0) throw std::runtime_error(std::string("freq_encode CUDA kernel: ") + freq_encode_cuda_error_string(err));
      },
      py::arg("x_ptr"), py::arg("out_ptr"), py::arg("rows"), py::arg("d"), py::arg("n_bands"),
      py::arg("include_input"), py::arg("stream") = 0,
      "float32 device buffers: x [rows, d] -> out [rows, d*(include_input + 2*n_bands)], on `stream`");
#else
  m.attr("with_cuda") = false;
#endif
}
