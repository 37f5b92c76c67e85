// Dense-point search for SAM2 prompt selection (motionseg_trt._C_medoid).
//
// Same answers as the NumPy fallback in engine/ops/medoid_search.py, which documents the algorithm and the
// shared definition of the exact sum S(i): float64, d = sqrt(dx*dx + dy*dy) with dx = x_j - x_i, summed
// sequentially in index order, ties to the lowest index. This file must be compiled without
// floating-point contraction (-ffp-contract=off, set in setup.py / CMakeLists.txt) so that dx*dx + dy*dy
// is not fused into an FMA and the sums stay bit-identical to NumPy's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace py = pybind11;

#ifdef MOTIONSEG_WITH_CUDA
// Defined in medoid.cu: S(i) for k candidate indices, computed on the GPU by the shared definition
// (one thread per candidate, sequential float64 sum in index order: the same bits as the CPU loop).
// Returns a cudaError_t as int (0 = success).
int medoid_cuda_sums(const float* xy_host, int64_t n, const int64_t* idx_host, int64_t k, double* out_host,
                     void** device_state);
void medoid_cuda_release(void* device_state);
int medoid_cuda_device_count();
const char* medoid_cuda_error_string(int err);
#endif

namespace {

// Evaluates S(i) for a batch of candidate indices (CPU loop or CUDA kernel).
using SumEvaluator = std::function<void(const int64_t* idx, int64_t k, double* out)>;

constexpr double kRelSlack = 1e-9;  // see _REL_SLACK in medoid_search.py
constexpr int64_t kSmallN = 64;

// S(i) over the point set (xs, ys) by the shared definition.
double exact_sum(const double* xs, const double* ys, int64_t n, int64_t i) {
  const double xi = xs[i], yi = ys[i];
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const double dx = xs[j] - xi;
    const double dy = ys[j] - yi;
    s += std::sqrt(dx * dx + dy * dy);
  }
  return s;
}

int grid_size(int64_t n) {
  const double g = std::round(std::sqrt(static_cast<double>(n) / 16.0));
  return static_cast<int>(std::min(48.0, std::max(1.0, g)));
}

uint64_t coord_key(float x, float y) {
  x += 0.0f;  // folds -0.0 into +0.0, as in the NumPy path
  y += 0.0f;
  uint32_t bx, by;
  std::memcpy(&bx, &x, 4);
  std::memcpy(&by, &y, 4);
  return (static_cast<uint64_t>(by) << 32) | bx;
}

// Medoid of n points given as float32 (x, y) pairs; returns the index. `sums` evaluates exact sums in
// batches (nullptr: the CPU loop).
int64_t medoid_impl(const float* pts, int64_t n, const SumEvaluator* sums = nullptr) {
  if (n <= 0) throw std::invalid_argument("medoid of an empty point set");
  if (n <= 2) return 0;
  std::vector<double> xs(n), ys(n);
  for (int64_t i = 0; i < n; ++i) {
    xs[i] = pts[2 * i];
    ys[i] = pts[2 * i + 1];
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) throw std::invalid_argument("points must be finite");
  }
  if (n <= kSmallN) {
    int64_t best_i = 0;
    double best_s = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      const double s = exact_sum(xs.data(), ys.data(), n, i);
      if (s < best_s) best_s = s, best_i = i;
    }
    return best_i;
  }
  const double xlo = *std::min_element(xs.begin(), xs.end()), xhi = *std::max_element(xs.begin(), xs.end());
  const double ylo = *std::min_element(ys.begin(), ys.end()), yhi = *std::max_element(ys.begin(), ys.end());
  if (xlo == xhi && ylo == yhi) return 0;
  SumEvaluator cpu_sums = [&](const int64_t* idx, int64_t k, double* out) {
    for (int64_t q = 0; q < k; ++q) out[q] = exact_sum(xs.data(), ys.data(), n, idx[q]);
  };
  const SumEvaluator& eval = sums ? *sums : cpu_sums;

  // 1. grid cells
  const int g = grid_size(n);
  const double sx = xhi > xlo ? xhi - xlo : 1.0, sy = yhi > ylo ? yhi - ylo : 1.0;
  std::vector<int32_t> cell_of(n);
  std::vector<int64_t> count(static_cast<size_t>(g) * g, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int cx = std::min(static_cast<int>(((xs[i] - xlo) / sx) * g), g - 1);
    const int cy = std::min(static_cast<int>(((ys[i] - ylo) / sy) * g), g - 1);
    cell_of[i] = cy * g + cx;
    ++count[cell_of[i]];
  }
  // compact non-empty cells; members listed in index order
  std::vector<int32_t> compact(count.size(), -1);
  int k = 0;
  for (size_t c = 0; c < count.size(); ++c)
    if (count[c]) compact[c] = k++;
  std::vector<int64_t> start(k + 1, 0);
  std::vector<double> cnt(k, 0.0), mx(k, 0.0), my(k, 0.0);
  std::vector<double> bxl(k, std::numeric_limits<double>::infinity()), byl(bxl), bxh(k, -bxl[0]), byh(bxh);
  for (int64_t i = 0; i < n; ++i) {
    const int c = compact[cell_of[i]];
    cell_of[i] = c;
    cnt[c] += 1.0;
    mx[c] += xs[i];
    my[c] += ys[i];
    bxl[c] = std::min(bxl[c], xs[i]);
    bxh[c] = std::max(bxh[c], xs[i]);
    byl[c] = std::min(byl[c], ys[i]);
    byh[c] = std::max(byh[c], ys[i]);
  }
  for (int c = 0; c < k; ++c) {
    mx[c] /= cnt[c];
    my[c] /= cnt[c];
    start[c + 1] = start[c] + static_cast<int64_t>(cnt[c]);
  }
  std::vector<int64_t> members(n);
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) members[fill[cell_of[i]]++] = i;
  }

  // 2. first candidate: nearest point to the weighted geometric median of the centroids
  double gx = 0.0, gy = 0.0;
  for (int c = 0; c < k; ++c) gx += mx[c] * cnt[c], gy += my[c] * cnt[c];
  gx /= n;
  gy /= n;
  for (int it = 0; it < 50; ++it) {
    double wx = 0.0, wy = 0.0, ws = 0.0;
    bool on_centroid = false;
    for (int c = 0; c < k; ++c) {
      const double d = std::sqrt((mx[c] - gx) * (mx[c] - gx) + (my[c] - gy) * (my[c] - gy));
      if (d < 1e-12) { on_centroid = true; break; }
      const double w = cnt[c] / d;
      wx += mx[c] * w, wy += my[c] * w, ws += w;
    }
    if (on_centroid) break;
    const double nx = wx / ws, ny = wy / ws;
    const bool done = std::max(std::fabs(nx - gx), std::fabs(ny - gy)) < 1e-9 * (1.0 + std::max(std::fabs(gx), std::fabs(gy)));
    gx = nx, gy = ny;
    if (done) break;
  }
  int64_t best_i = 0;
  {
    double bd = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      const double d = (xs[i] - gx) * (xs[i] - gx) + (ys[i] - gy) * (ys[i] - gy);
      if (d < bd) bd = d, best_i = i;
    }
  }
  double best_s;
  eval(&best_i, 1, &best_s);

  // 3. cell-level bound; 4. candidates of the surviving cells, one per distinct location
  std::vector<int64_t> cand;
  for (int b = 0; b < k; ++b) {
    double lb = 0.0;
    for (int c = 0; c < k; ++c) {
      const double ex = std::max(bxl[b] - mx[c], 0.0) + std::max(mx[c] - bxh[b], 0.0);
      const double ey = std::max(byl[b] - my[c], 0.0) + std::max(my[c] - byh[b], 0.0);
      lb += cnt[c] * std::sqrt(ex * ex + ey * ey);
    }
    if (lb <= best_s + kRelSlack * best_s)
      for (int64_t m = start[b]; m < start[b + 1]; ++m) cand.push_back(members[m]);
  }
  std::sort(cand.begin(), cand.end());
  {
    std::unordered_set<uint64_t> seen;
    seen.reserve(cand.size() * 2);
    size_t w = 0;
    for (int64_t i : cand)
      if (seen.insert(coord_key(pts[2 * i], pts[2 * i + 1])).second) cand[w++] = i;
    cand.resize(w);
  }

  // 5. point-level bound, exact sums in bound order
  std::vector<std::pair<double, int64_t>> ranked(cand.size());
  for (size_t q = 0; q < cand.size(); ++q) {
    const int64_t i = cand[q];
    double lb = 0.0;
    for (int c = 0; c < k; ++c)
      lb += cnt[c] * std::sqrt((xs[i] - mx[c]) * (xs[i] - mx[c]) + (ys[i] - my[c]) * (ys[i] - my[c]));
    ranked[q] = {lb, i};
  }
  std::sort(ranked.begin(), ranked.end());
  // exact sums in bound order, in growing batches (a batch may hold a few candidates a better sum
  // found inside it would have pruned: extra work, same answer)
  std::vector<int64_t> batch;
  std::vector<double> batch_sums;
  size_t pos = 0, size = 1;
  while (pos < ranked.size() && ranked[pos].first <= best_s + kRelSlack * best_s) {
    batch.clear();
    for (size_t q = pos; q < ranked.size() && batch.size() < size; ++q) {
      if (ranked[q].first > best_s + kRelSlack * best_s) break;
      batch.push_back(ranked[q].second);
    }
    batch_sums.resize(batch.size());
    eval(batch.data(), static_cast<int64_t>(batch.size()), batch_sums.data());
    for (size_t q = 0; q < batch.size(); ++q)
      if (batch_sums[q] < best_s || (batch_sums[q] == best_s && batch[q] < best_i))
        best_s = batch_sums[q], best_i = batch[q];
    pos += batch.size();
    size = std::min<size_t>(size * 2, sums ? 4096 : 1);  // the CPU loop gains nothing from batching
  }
  return best_i;
}

py::array_t<float, py::array::c_style | py::array::forcecast> as_points(const py::array& a, int ndim) {
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!arr || arr.ndim() != ndim || arr.shape(ndim - 1) != 2)
    throw std::invalid_argument(ndim == 2 ? "points must be [N, 2]" : "points must be [T, N, 2]");
  return arr;
}

int64_t medoid(const py::array& points) {
  auto arr = as_points(points, 2);
  const float* p = arr.data();
  const int64_t n = arr.shape(0);
  py::gil_scoped_release release;
  return medoid_impl(p, n);
}

py::array_t<int64_t> medoid_batched(const py::array& points, const py::array& visible) {
  auto arr = as_points(points, 3);
  auto vis = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(visible);
  if (!vis || vis.ndim() != 2 || vis.shape(0) != arr.shape(0) || vis.shape(1) != arr.shape(1))
    throw std::invalid_argument("visible must be [T, N]");
  const int64_t t_len = arr.shape(0), n = arr.shape(1);
  py::array_t<int64_t> out(t_len);
  int64_t* o = out.mutable_data();
  const float* p = arr.data();
  const uint8_t* v = vis.data();
  {
    py::gil_scoped_release release;
    std::vector<float> sub;
    std::vector<int64_t> idx;
    for (int64_t t = 0; t < t_len; ++t) {
      sub.clear();
      idx.clear();
      for (int64_t i = 0; i < n; ++i)
        if (v[t * n + i]) {
          idx.push_back(i);
          sub.push_back(p[(t * n + i) * 2]);
          sub.push_back(p[(t * n + i) * 2 + 1]);
        }
      o[t] = idx.empty() ? -1 : idx[medoid_impl(sub.data(), static_cast<int64_t>(idx.size()))];
    }
  }
  return out;
}

py::array_t<int64_t> prompt_points(const py::array& points) {
  auto arr = as_points(points, 2);
  const int64_t n = arr.shape(0);
  if (n == 0) throw std::invalid_argument("prompt_points of an empty point set");
  const float* p = arr.data();
  double cx = 0.0, cy = 0.0;
  for (int64_t i = 0; i < n; ++i) cx += static_cast<double>(p[2 * i]), cy += static_cast<double>(p[2 * i + 1]);
  cx /= static_cast<double>(n);
  cy /= static_cast<double>(n);
  std::vector<double> dist(n);
  int64_t nearest = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double dx = static_cast<double>(p[2 * i]) - cx, dy = static_cast<double>(p[2 * i + 1]) - cy;
    dist[i] = std::sqrt(dx * dx + dy * dy);
    if (dist[i] < dist[nearest]) nearest = i;
  }
  // farthest two (distance descending, index ascending), the nearest excluded
  int64_t f1 = -1, f2 = -1;
  auto better = [&](int64_t a, int64_t b) { return b < 0 || dist[a] > dist[b] || (dist[a] == dist[b] && a < b); };
  for (int64_t i = 0; i < n; ++i) {
    if (i == nearest) continue;
    if (better(i, f1)) f2 = f1, f1 = i;
    else if (better(i, f2)) f2 = i;
  }
  std::vector<int64_t> sel{nearest};
  if (f1 >= 0) sel.push_back(f1);
  if (f2 >= 0) sel.push_back(f2);
  py::array_t<int64_t> out(static_cast<py::ssize_t>(sel.size()));
  std::copy(sel.begin(), sel.end(), out.mutable_data());
  return out;
}

#ifdef MOTIONSEG_WITH_CUDA
int64_t medoid_cuda(const py::array& points) {
  auto arr = as_points(points, 2);
  const float* p = arr.data();
  const int64_t n = arr.shape(0);
  py::gil_scoped_release release;
  void* state = nullptr;
  int err = 0;
  SumEvaluator gpu = [&](const int64_t* idx, int64_t k, double* out) {
    err = medoid_cuda_sums(p, n, idx, k, out, &state);
    if (err != 0) throw std::runtime_error(std::string("medoid CUDA kernel: ") + medoid_cuda_error_string(err));
  };
  try {
    const int64_t r = medoid_impl(p, n, &gpu);
    medoid_cuda_release(state);
    return r;
  } catch (...) {
    medoid_cuda_release(state);
    throw;
  }
}
#endif

}  // namespace

PYBIND11_MODULE(_C_medoid, m) {
  m.doc() = "Exact medoid (minimum summed distance) search with bound-and-prune; see engine/ops/medoid_search.py";
  m.def("medoid", &medoid, py::arg("points"), "Index of the medoid of float32 [N, 2] points (ties: lowest index)");
  m.def("medoid_batched", &medoid_batched, py::arg("points"), py::arg("visible"),
        "Per-frame medoid of [T, N, 2] points among visible [T, N] (uint8); -1 where none is visible");
  m.def("prompt_points", &prompt_points, py::arg("points"),
        "Nearest-to-centroid point, then the two farthest from the centroid (indices)");
#ifdef MOTIONSEG_WITH_CUDA
  m.attr("with_cuda") = true;
  m.def("cuda_device_count", &medoid_cuda_device_count, "CUDA devices visible (0 when none or no driver)");
  m.def("medoid_cuda", &medoid_cuda, py::arg("points"),
        "medoid() with the exact sums evaluated on the GPU (same answer, bit for bit)");
#else
  m.attr("with_cuda") = false;
#endif
}
