// ops.hpp — the differentiable ops on Tensors.
//
// Each op computes its result with tensor:: kernels and, when grad mode is on and an input
// requires grad, records a graph node whose backward function sits right beside the forward
// code in the op's .cpp file (ops_elementwise.cpp, ops_reduce.cpp, ops_view.cpp, ...).
// Broadcasting is handled once, by the engine: a gradient is summed back to its input's shape.
//
// The `site` argument is filled in by the compiler with the caller's file and line; leave it out.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "autograd/tensor.hpp"

namespace autograd {

// ---- elementwise, one input ------------------------------------------------------------------
Tensor neg(const Tensor& x, Site site = Site::current());
Tensor abs(const Tensor& x, Site site = Site::current());
Tensor square(const Tensor& x, Site site = Site::current());
Tensor exp(const Tensor& x, Site site = Site::current());
Tensor log(const Tensor& x, Site site = Site::current());
Tensor sqrt(const Tensor& x, Site site = Site::current());
Tensor rsqrt(const Tensor& x, Site site = Site::current());
Tensor reciprocal(const Tensor& x, Site site = Site::current());
Tensor sin(const Tensor& x, Site site = Site::current());
Tensor cos(const Tensor& x, Site site = Site::current());
Tensor tanh(const Tensor& x, Site site = Site::current());
Tensor sigmoid(const Tensor& x, Site site = Site::current());
Tensor relu(const Tensor& x, Site site = Site::current());
// GELU: x * Phi(x) with the exact erf form, or the tanh approximation (GPT-2) when asked.
Tensor gelu(const Tensor& x, bool tanh_approximation = false, Site site = Site::current());
Tensor silu(const Tensor& x, Site site = Site::current());
// Reduced precision: the forward rounds x to the nearest bf16 / fp16 value, and the backward
// rounds the incoming gradient to the same format (not the true derivative, which is zero almost
// everywhere): it is what storing an activation and its gradient in 16 bits does, so a gradient
// below fp16's smallest subnormal (2^-24) becomes 0 here as it would on the GPU.
Tensor round_to_bf16(const Tensor& x, Site site = Site::current());
Tensor round_to_fp16(const Tensor& x, Site site = Site::current());
Tensor pow(const Tensor& x, double exponent, Site site = Site::current());
Tensor sign(const Tensor& x, Site site = Site::current());  // gradient zero (piecewise constant)

// ---- elementwise, two inputs (NumPy broadcasting) --------------------------------------------
Tensor add(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor sub(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor mul(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor div(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor pow(const Tensor& a, const Tensor& b, Site site = Site::current());
// Gradient goes to the larger (smaller) input; on ties it is split evenly, as in PyTorch.
Tensor maximum(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor minimum(const Tensor& a, const Tensor& b, Site site = Site::current());
// A number as a 0-d tensor with the dtype that `like op value` should have.
Tensor scalar_like(const Tensor& like, double value);

// ---- comparisons: bool results, not differentiable -------------------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

// ---- reductions (empty dims = all; negative dims count from the end) --------------------------
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
           Site site = Site::current());
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
            Site site = Site::current());
// Largest/smallest values over dims; the gradient is shared evenly among tied maxima.
Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
            Site site = Site::current());
Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
            Site site = Site::current());
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims = {},
           std::int64_t correction = 1, bool keepdim = false, Site site = Site::current());
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);  // int64, no gradient
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);

// ---- linear algebra and softmax ----------------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b, Site site = Site::current());
// A Linear layer, x W^T + b (torch.nn.functional.linear): x [..., in], weight [out, in], bias
// [out] or undefined; returns [..., out]. Where tensor::has_fused_linear (the cpu), one node: its
// forward is one GEMM that adds the bias as it stores, its backward dx = g W (one GEMM) and
// dW = g^T x with db summed while g^T is packed (one GEMM), each only for the inputs that
// require grad. Elsewhere (cuda, cuda-sim, int64, an empty x) it is matmul(x, W^T) then add:
// the same forward bit for bit, and the same errors for bad shapes.
Tensor fused_linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    Site site = Site::current());
Tensor softmax(const Tensor& x, std::int64_t dim, Site site = Site::current());
Tensor log_softmax(const Tensor& x, std::int64_t dim, Site site = Site::current());

// ---- views and copies (gradients flow back through them) ---------------------------------------
Tensor view(const Tensor& x, const Shape& shape, Site site = Site::current());
Tensor reshape(const Tensor& x, const Shape& shape, Site site = Site::current());
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims,
               Site site = Site::current());
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1,
                 Site site = Site::current());
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step = 1, Site site = Site::current());
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index, Site site = Site::current());
Tensor expand(const Tensor& x, const Shape& shape, Site site = Site::current());
Tensor squeeze(const Tensor& x, std::int64_t dim, Site site = Site::current());
Tensor squeeze(const Tensor& x, Site site = Site::current());
Tensor unsqueeze(const Tensor& x, std::int64_t dim, Site site = Site::current());
Tensor contiguous(const Tensor& x, Site site = Site::current());
Tensor clone(const Tensor& x, Site site = Site::current());
Tensor to(const Tensor& x, DType dtype, Site site = Site::current());
Tensor to(const Tensor& x, Device device, Site site = Site::current());

// ---- indexing ----------------------------------------------------------------------------------
// The slices of x at positions `index` (1-d int64) along dim.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index,
                    Site site = Site::current());
// torch.gather: out[i][j] = x[i][index[i][j]] for dim = 1 (likewise for any dim). Unlike
// PyTorch, index must have the same size as x in every dim other than `dim`.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index, Site site = Site::current());
// A copy of x with src added at the positions given by index along dim (torch.scatter_add).
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                   Site site = Site::current());
// Rows of weight [V, D] picked by int64 indices of any shape: [*indices.shape, D]. In backward,
// rows picked several times receive the sum of their gradients.
Tensor embedding(const Tensor& weight, const Tensor& indices, Site site = Site::current());

// ---- joining and splitting ---------------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim, Site site = Site::current());
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim, Site site = Site::current());
// Pieces of split_size along dim (the last one may be smaller), as views.
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim,
                          Site site = Site::current());
std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                     std::int64_t dim, Site site = Site::current());
// `chunks` nearly equal pieces along dim (torch.chunk: each of size ceil(n / chunks)).
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim,
                          Site site = Site::current());

// ---- masking and clamping ----------------------------------------------------------------------
// x with `value` wherever the bool mask (broadcast to x) is true; no gradient flows there.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value, Site site = Site::current());
// cond ? a : b, elementwise with broadcasting; cond is bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, Site site = Site::current());
// Lower / upper triangle of the last two dims (elements j <= i + diagonal / j >= i + diagonal).
Tensor tril(const Tensor& x, std::int64_t diagonal = 0, Site site = Site::current());
Tensor triu(const Tensor& x, std::int64_t diagonal = 0, Site site = Site::current());
// Limits x to [min, max]; the gradient passes where x is inside the range (ends included).
Tensor clamp(const Tensor& x, double min, double max, Site site = Site::current());
Tensor clamp_min(const Tensor& x, double min, Site site = Site::current());
Tensor clamp_max(const Tensor& x, double max, Site site = Site::current());

// ---- neural-network functions ------------------------------------------------------------------
// Inverted dropout: while training, zeroes each element with probability p and scales the rest
// by 1/(1-p), so the expected value is unchanged and evaluation needs no rescaling. Identity when
// not training or p == 0. The mask comes from `gen` (same seed, same mask on every device).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = tensor::default_generator(),
               Site site = Site::current());
// Normalises the last dim to mean 0, variance 1 (biased), then scales by weight and shifts by
// bias (either may be undefined). Its backward is fused: it saves the mean and 1/std per row.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5,
                  Site site = Site::current());

// RMS norm over the last dim (torch.nn.functional.rms_norm): y = x / sqrt(mean(x^2) + eps) *
// weight. Unlike layer_norm it subtracts no mean and adds no bias. weight [C] may be undefined;
// eps = nullopt means the machine epsilon of x's dtype, as in PyTorch. Its backward is fused: it
// saves 1/rms per row.
Tensor rms_norm(const Tensor& x, const Tensor& weight, std::optional<double> eps = std::nullopt,
                Site site = Site::current());

// Rotary position embedding (RoPE; Su et al., RoFormer, 2021), applied to queries and keys per
// head before their dot product. x is [..., T, D] with positions along dim -2 (e.g. q or k as
// [B, H, T, D]) and D even; row t sits at position position_offset + t, so a KV cache rotates
// its new tokens with position_offset = the number of cached tokens. Each pair of dims
// (x[2i], x[2i+1]), read as the complex number x[2i] + i x[2i+1], is multiplied by
// e^{i angle}, angle = position * base^(-2i/D): pair 0 turns by 1 radian per position, the last
// pair by about 1/base. Then q_m . k_n depends on m and n only through m - n.
// Pairs are interleaved, as in Meta's LLaMA and RoFormer; Hugging Face's rotate_half pairs dim i
// with dim i + D/2 instead, which is the same rotation with the dims of q and k permuted (and
// so gives the same attention scores for weights permuted to match). The backward turns the
// gradient by -angle. float32 or float64, any layout (transposed, expanded); throws naming the
// shape when D is odd.
Tensor rotary_embedding(const Tensor& x, std::int64_t position_offset = 0, double base = 10000.0,
                        Site site = Site::current());

// Fused scaled-dot-product attention, softmax(scale q k^T) v with the masks computed from
// indices, forward and backward in one kernel each (tensor::fused_attention,
// tensor/cpu/attention.cpp): q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv], H a
// multiple of Hkv; key_padding_mask bool [B, Tk] (true = padding) or undefined; causal blocks
// key j for query i when j > i + causal_offset. Returns [B, H, Tq, Dv]; a query with every key
// blocked gets 0 and no gradient. Saves q, k, v, the output and one logsumexp per query row,
// never the [Tq, Tk] weights. Only where tensor::has_fused_attention(device).
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const Tensor& key_padding_mask, bool causal, std::int64_t causal_offset,
                       double scale, Site site = Site::current());

enum class Reduction { Mean, Sum, None };

// Cross-entropy over logits [N, C] (or [C]) with class indices [N] (or 0-d), PyTorch semantics:
// targets equal to ignore_index contribute nothing and the mean is over the other rows; with
// label_smoothing s the target distribution is (1 - s) on the class plus s/C everywhere.
// The log-softmax is fused in (stable for any logits).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, std::int64_t ignore_index = -100,
                     double label_smoothing = 0.0, Reduction reduction = Reduction::Mean,
                     Site site = Site::current());
// Negative log-likelihood of log-probabilities [N, C] at class indices [N].
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, std::int64_t ignore_index = -100,
                Reduction reduction = Reduction::Mean, Site site = Site::current());
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                Site site = Site::current());
// Binary cross-entropy on logits, in the stable form max(x, 0) - x*y + log(1 + exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::Mean,
                                        Site site = Site::current());

// ---- operators ---------------------------------------------------------------------------------
// C++ operators take no default arguments, so the caller's site is captured by this wrapper's
// converting constructor instead: `a * b` records the line where the user wrote it.
struct Operand {
  const Tensor& tensor;
  Site site;
  Operand(const Tensor& t, Site s = Site::current()) : tensor(t), site(s) {}
};

Tensor operator-(Operand x);
Tensor operator+(Operand a, const Tensor& b);
Tensor operator-(Operand a, const Tensor& b);
Tensor operator*(Operand a, const Tensor& b);
Tensor operator/(Operand a, const Tensor& b);
Tensor operator+(Operand a, double b);
Tensor operator-(Operand a, double b);
Tensor operator*(Operand a, double b);
Tensor operator/(Operand a, double b);
Tensor operator+(double a, Operand b);
Tensor operator-(double a, Operand b);
Tensor operator*(double a, Operand b);
Tensor operator/(double a, Operand b);

}  // namespace autograd
