// debug.cpp — graph printing, DOT export, the backward trace and anomaly detection.
//
// None of this changes what the engine computes: the engine calls the detail:: functions at the
// bottom of this file when a guard is alive, and they only read (and, for anomalies, throw).
#include "autograd/debug.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "autograd/grad_mode.hpp"

namespace autograd {

// ---- state of the guards (per thread) -----------------------------------------------------------

namespace detail {
constinit thread_local bool debug_hooks_on = false;
}

namespace {

thread_local std::ostream* trace_out = nullptr;  // non-null while a BackwardTrace lives
thread_local std::int64_t trace_max_values = 12;
thread_local std::size_t trace_step = 0;  // position of the node within this backward
thread_local bool anomaly_on = false;

void update_hooks_flag() {
  detail::debug_hooks_on = trace_out != nullptr || anomaly_on;
}

}  // namespace

BackwardTrace::BackwardTrace(std::ostream& out, std::int64_t max_values)
    : previous_out_(trace_out), previous_max_values_(trace_max_values) {
  trace_out = &out;
  trace_max_values = max_values;
  update_hooks_flag();
}
BackwardTrace::BackwardTrace() : BackwardTrace(std::cout) {}
BackwardTrace::~BackwardTrace() {
  trace_out = previous_out_;
  trace_max_values = previous_max_values_;
  update_hooks_flag();
}

DetectAnomaly::DetectAnomaly() : previous_(anomaly_on) {
  set_detect_anomaly(true);
}
DetectAnomaly::~DetectAnomaly() {
  set_detect_anomaly(previous_);
}

void set_detect_anomaly(bool enabled) {
  anomaly_on = enabled;
  update_hooks_flag();
}
bool is_anomaly_enabled() {
  return anomaly_on;
}

// ---- formatting helpers -------------------------------------------------------------------------

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return buffer;
}

// Writes values[next...] as nested brackets following `shape` from dimension `dim` on.
void nested(std::ostringstream& os, const std::vector<double>& values, const Shape& shape,
            std::size_t dim, std::size_t& next) {
  if (dim == shape.size()) {
    os << number(values[next++]);
    return;
  }
  os << '[';
  for (std::int64_t i = 0; i < shape[dim]; ++i) {
    if (i > 0) os << ", ";
    nested(os, values, shape, dim + 1, next);
  }
  os << ']';
}

// Row-major multi-index of flat position `flat`, as "[i, j]".
std::string index_str(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return tensor::shape_str(index);
}

// "[4, 2] float64"
std::string shape_dtype(const Shape& shape, DType dtype) {
  return tensor::shape_str(shape) + " " + tensor::dtype_name(dtype);
}

// Where the op was called, "file:line", or "" for nodes without a site (leaf accumulators).
std::string site_of(const Node& node) {
  return node.site.line() == 0 ? "" : node.site_str();
}

// The same with the directories dropped, for the narrow boxes of a DOT picture.
std::string short_site_of(const Node& node) {
  std::string site = site_of(node);
  std::size_t slash = site.find_last_of('/');
  return slash == std::string::npos ? site : site.substr(slash + 1);
}

}  // namespace

std::string node_label(const Node& node) {
  return node.name.empty() ? node.op : node.op + " '" + node.name + "'";
}

std::string summarize(const Array& values, std::int64_t max_values) {
  if (!values.defined()) return "(none)";
  std::vector<double> v = values.to_vector<double>();
  std::ostringstream os;
  if (values.numel() <= max_values) {
    std::size_t next = 0;
    nested(os, v, values.shape(), 0, next);
    return os.str();
  }
  // Too many to read: shape, range, mean (over the finite values) and the first few.
  double low = INFINITY, high = -INFINITY, total = 0;
  std::int64_t finite = 0, nans = 0, infs = 0;
  for (double x : v) {
    if (std::isnan(x)) {
      ++nans;
      continue;
    }
    if (std::isinf(x)) {
      ++infs;
      continue;
    }
    low = std::min(low, x);
    high = std::max(high, x);
    total += x;
    ++finite;
  }
  os << tensor::shape_str(values.shape());
  if (finite > 0)
    os << " min " << number(low) << " max " << number(high) << " mean " << number(total / finite);
  if (nans > 0) os << " (" << nans << " nan)";
  if (infs > 0) os << " (" << infs << " inf)";
  os << ", first";
  for (std::size_t i = 0; i < 3 && i < v.size(); ++i) os << (i ? ", " : " ") << number(v[i]);
  os << ", ...";
  return os.str();
}

// ---- print_graph --------------------------------------------------------------------------------

namespace {

// Whether tensor.grad() holds something for the tensor this node feeds (leaf) or made.
bool grad_stored(const Node& node) {
  std::shared_ptr<TensorImpl> impl =
      node.is_leaf_accumulator() ? node.leaf.lock() : node.output.lock();
  return impl && impl->grad.defined();
}

std::string node_line(const Node& node) {
  std::string line = node_label(node) + " " + shape_dtype(node.output_shape, node.output_dtype) +
                     (grad_stored(node) ? ", grad stored" : ", no grad");
  std::string site = site_of(node);
  if (!site.empty()) line += "  (" + site + ")";
  return line;
}

}  // namespace

std::string graph_string(const Tensor& root, int max_depth) {
  std::ostringstream os;
  if (!root.defined()) return "(undefined tensor)\n";
  if (!root.requires_grad()) {
    os << "no-grad tensor " << shape_dtype(root.shape(), root.dtype())
       << ": no graph was recorded (nothing it depends on requires grad, or grad mode was off)\n";
    return os.str();
  }
  if (root.is_leaf()) {
    os << "leaf" << (root.name().empty() ? "" : " '" + root.name() + "'") << " "
       << shape_dtype(root.shape(), root.dtype())
       << (root.grad().defined() ? ", grad stored" : ", no grad") << "\n";
    return os.str();
  }

  // Depth-first, children in input order, without recursion (graphs can be very deep).
  struct Item {
    const Node* node;  // null for an input that needs no gradient
    Shape shape;       // ... whose shape and dtype are shown instead
    DType dtype;
    std::string prefix;     // what goes before the connector ("│  │  ")
    std::string connector;  // "├─ ", "└─ " or "" for the root
    int depth;
  };
  std::vector<Item> stack{{root.grad_fn().get(), {}, DType::Float32, "", "", 0}};
  std::unordered_set<const Node*> shown;
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    os << item.prefix << item.connector;
    if (item.node == nullptr) {
      os << "no-grad input " << shape_dtype(item.shape, item.dtype) << "\n";
      continue;
    }
    const Node& node = *item.node;
    if (!shown.insert(&node).second) {
      os << node_label(node) << " (shown above)\n";
      continue;
    }
    os << node_line(node) << "\n";
    if (node.inputs.empty()) continue;
    std::string child_prefix = item.prefix + (item.connector.empty()    ? ""
                                              : item.connector == "└─ " ? "   "
                                                                        : "│  ");
    if (item.depth + 1 > max_depth) {
      os << child_prefix << "└─ ... (deeper than max_depth " << max_depth << ")\n";
      continue;
    }
    // Pushed last-to-first so that input 0 is printed first.
    for (std::size_t i = node.inputs.size(); i-- > 0;) {
      bool last = i + 1 == node.inputs.size();
      stack.push_back({node.inputs[i].get(), node.input_shapes[i], node.input_dtypes[i],
                       child_prefix, last ? "└─ " : "├─ ", item.depth + 1});
    }
  }
  return os.str();
}

void print_graph(const Tensor& root, std::ostream& out) {
  out << graph_string(root);
}
void print_graph(const Tensor& root) {
  print_graph(root, std::cout);
}

// ---- DOT ----------------------------------------------------------------------------------------

namespace {

std::string dot_escape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string dot_id(const Node& node) {
  return "n" + std::to_string(node.sequence);
}

}  // namespace

std::string to_dot(const Tensor& root) {
  std::ostringstream os;
  os << "digraph autograd {\n"
        "  // data flows top to bottom, inputs -> ops -> root; backward() runs bottom to top\n"
        "  rankdir=TB;\n"
        "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", "
        "fontsize=11];\n"
        "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
  std::vector<std::shared_ptr<Node>> nodes = backward_order(root);
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const Node& node = *nodes[k];
    std::string label = dot_escape(node_label(node)) + "\\n" +
                        dot_escape(shape_dtype(node.output_shape, node.output_dtype));
    std::string site = short_site_of(node);
    if (!site.empty()) label += "\\n" + dot_escape(site);
    if (grad_stored(node)) label += "\\ngrad stored";
    std::string fill = k == 0                       ? "#ffd8a8"  // the root: orange
                       : node.is_leaf_accumulator() ? "#cfe2ff"  // leaves: blue
                                                    : "white";
    os << "  " << dot_id(node) << " [label=\"" << label << "\", fillcolor=\"" << fill << "\"];\n";
  }
  for (const auto& node : nodes) {
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      if (!node->inputs[i]) continue;
      os << "  " << dot_id(*node->inputs[i]) << " -> " << dot_id(*node);
      if (node->inputs.size() > 1) os << " [label=\" input " << i << "\"]";
      os << ";\n";
    }
  }
  os << "}\n";
  return os.str();
}

void to_dot(const Tensor& root, const std::string& path) {
  std::ofstream file(path);
  if (!file) throw std::runtime_error("to_dot: cannot open '" + path + "' for writing");
  file << to_dot(root);
  if (!file) throw std::runtime_error("to_dot: writing '" + path + "' failed");
}

// ---- anomaly detection --------------------------------------------------------------------------

namespace {

// How many NaNs and infinities an array holds, and where the first of each is.
struct NonFinite {
  std::int64_t nans = 0, infs = 0;
  std::int64_t first_nan = -1, first_inf = -1;
  bool any() const { return nans + infs > 0; }
};

NonFinite scan(const Array& values) {
  NonFinite found;
  if (!values.defined() || !tensor::is_floating(values.dtype())) return found;
  std::vector<double> v = values.to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      if (found.nans++ == 0) found.first_nan = static_cast<std::int64_t>(i);
    } else if (std::isinf(v[i])) {
      if (found.infs++ == 0) found.first_inf = static_cast<std::int64_t>(i);
    }
  }
  return found;
}

// "nan in 1 of 3 elements (first at [1])", for the kind(s) selected.
std::string describe(const NonFinite& found, const Shape& shape, bool nan, bool inf) {
  std::int64_t total = tensor::shape_numel(shape);
  std::string text;
  if (nan && found.nans > 0)
    text += "nan in " + std::to_string(found.nans) + " of " + std::to_string(total) +
            " elements (first at " + index_str(found.first_nan, shape) + ")";
  if (inf && found.infs > 0)
    text += std::string(text.empty() ? "" : " and ") + "inf in " + std::to_string(found.infs) +
            " of " + std::to_string(total) + " elements (first at " +
            index_str(found.first_inf, shape) + ")";
  return text;
}

std::string tensor_label(const Tensor& t) {
  std::string origin = t.grad_fn() ? "made by " + t.grad_fn()->op : "leaf";
  return t.name().empty() ? "(unnamed, " + origin + ")" : "'" + t.name() + "' (" + origin + ")";
}

}  // namespace

namespace detail {

void check_forward(const char* op, const Site& site, const Array& output,
                   const std::vector<Tensor>& inputs) {
  if (!anomaly_on) return;
  NonFinite out = scan(output);
  if (!out.any()) return;
  // Only a NaN or an infinity that this op created is an anomaly: one that was already in an
  // input (a -inf attention mask, say) is passed along on purpose.
  bool input_nan = false, input_inf = false;
  for (const Tensor& input : inputs) {
    if (!input.defined()) continue;
    NonFinite in = scan(input.data());
    input_nan = input_nan || in.nans > 0;
    input_inf = input_inf || in.infs > 0;
  }
  bool new_nan = out.nans > 0 && !input_nan, new_inf = out.infs > 0 && !input_inf;
  if (!new_nan && !new_inf) return;

  std::ostringstream os;
  os << "anomaly detected in forward: '" << op << "' created at "
     << (site.line() == 0 ? "unknown site"
                          : std::string(site.file_name()) + ":" + std::to_string(site.line()))
     << " produced " << describe(out, output.shape(), new_nan, new_inf)
     << ", which none of its inputs held.\n";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    os << "  input " << i << " " << tensor_label(inputs[i]) << " "
       << shape_dtype(inputs[i].shape(), inputs[i].dtype()) << ": " << summarize(inputs[i].data())
       << "\n";
  }
  os << "  result " << shape_dtype(output.shape(), output.dtype()) << ": " << summarize(output)
     << "\n"
     << "Usual causes: log or sqrt of a negative number or of 0, a division by 0, exp of a large "
        "number, inf - inf. Fix the values that reach '"
     << op << "' (clamp, add an epsilon, or use a stable op such as log_softmax).";
  throw std::runtime_error(os.str());
}

void backward_started(const Node& root, const Array& root_grad, std::size_t node_count) {
  trace_step = 0;
  if (trace_out == nullptr) return;
  std::ostream& os = *trace_out;
  os << "backward from " << node_label(root) << " "
     << shape_dtype(root.output_shape, root.output_dtype) << " with gradient "
     << summarize(root_grad, trace_max_values) << ": " << node_count << " nodes, newest first\n";
}

namespace {

// Throws when the gradient arriving at `node` is already NaN/inf. Gradients made by a backward
// are checked where they are made, so this one came from backward()'s argument or a hook.
void check_arriving(const Node& node, const Array& grad) {
  NonFinite in = scan(grad);
  if (!in.any()) return;
  std::string site = site_of(node);
  throw std::runtime_error(
      "anomaly detected in backward: the gradient arriving at '" + node.op + "'" +
      (node.name.empty() ? "" : " '" + node.name + "'") +
      (site.empty() ? "" : " created at " + site) + " holds " +
      describe(in, grad.shape(), true, true) + ": " + summarize(grad) +
      ". Every backward is checked where it makes a gradient, so this one came from the "
      "gradient passed to backward() or from a hook (register_hook) that changed it.");
}

}  // namespace

void node_done(const Node& node, const Array& grad, const Grads& grads) {
  ++trace_step;
  if (trace_out != nullptr) {
    std::ostream& os = *trace_out;
    std::string site = site_of(node);
    os << "[" << trace_step << "] " << node_label(node) << " "
       << shape_dtype(node.output_shape, node.output_dtype)
       << (site.empty() ? "" : "  (" + site + ")") << "\n";
    os << "      grad in      " << summarize(grad, trace_max_values) << "\n";
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Node* next = node.inputs[i].get();
      if (next == nullptr) continue;  // this input needs no gradient
      os << "      to input " << i << "   " << node_label(*next) << " "
         << shape_dtype(node.input_shapes[i], node.input_dtypes[i]) << ": "
         << (grads[i].defined() ? summarize(grads[i], trace_max_values) : "no gradient") << "\n";
    }
  }
  if (!anomaly_on) return;
  check_arriving(node, grad);
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (node.inputs[i] == nullptr) continue;
    NonFinite sent = scan(grads[i]);
    if (!sent.any()) continue;
    std::string site = site_of(node);
    std::ostringstream os;
    os << "anomaly detected in backward: the backward of '" << node.op << "'"
       << (node.name.empty() ? "" : " '" + node.name + "'")
       << (site.empty() ? "" : " created at " + site) << " sent "
       << describe(sent, grads[i].shape(), true, true) << " to input " << i << " ("
       << node_label(*node.inputs[i]) << " "
       << shape_dtype(node.input_shapes[i], node.input_dtypes[i]) << ").\n"
       << "  gradient arriving at " << node.op << ": " << summarize(grad) << "\n"
       << "  gradient sent to input " << i << ": " << summarize(grads[i]) << "\n"
       << "The gradient arriving was finite, so the backward formula of '" << node.op
       << "' made it: its derivative is infinite or undefined at these forward values (sqrt "
          "or log at 0, a division by 0, pow with a negative base...).";
    throw std::runtime_error(os.str());
  }
}

void leaf_reached(const Node& node, const Array& grad) {
  ++trace_step;
  if (trace_out != nullptr) {
    std::string name = node.name.empty() ? "the leaf's" : node.name;
    *trace_out << "[" << trace_step << "] " << node_label(node) << " "
               << shape_dtype(node.output_shape, node.output_dtype) << "\n"
               << "      grad in      " << summarize(grad, trace_max_values) << "  -> added into "
               << name << ".grad()\n";
  }
  if (anomaly_on) check_arriving(node, grad);
}

}  // namespace detail

}  // namespace autograd
