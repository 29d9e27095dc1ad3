// 01_autograd — How does backpropagation work? Walk through the training steps of a model.
//              注意力模型的训练过程通常包括哪些步骤？反向传播是如何工作的？
//              (the first question as the interview article "深度学习与注意力模型应用解析：
//              面试题与编程题满分答案" asks it)
//
// Short answer
//   The forward pass computes the loss and, op by op, records a graph: which op made each value
//   and from which inputs. Backpropagation walks that graph backwards, from the loss to the
//   parameters, in reverse topological order (every node after all the nodes that use its
//   output). Each op turns the gradient of its output into gradients of its inputs with its
//   local derivative (the chain rule), and a value used twice adds up both contributions.
//   Training repeats: forward, loss, backward, update the parameters against the gradient,
//   clear the gradients.
//
// What this program shows
//   1. a one-neuron model o = tanh(x1*w1 + x2*w2 + b) and its squared-error loss, built op by op;
//   2. the order in which backward() visits the graph's nodes;
//   3. the gradient arriving at each intermediate value, printed by the real engine as it runs;
//   4. the same gradients derived by hand with the chain rule, compared with autograd;
//   5. a finite-difference check in float64 agreeing to ~1e-6 or better;
//   6. a few training steps of gradient descent with the loss going down.
//
// Run:  build/tutorials/01_autograd   (make tutorials builds it; --help lists the flags)
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace autograd;

namespace {

// A leaf holding one float64 number; parameters require grad, data does not.
Tensor number(double value, const char* name, bool is_parameter) {
  Tensor t = scalar(value, DType::Float64);
  if (is_parameter) t.requires_grad_();
  return t.set_name(name);
}

void show(const Tensor& t, const char* formula) {
  std::printf("  %-6s = %-26s = %9.5f   (node: %s)\n", t.name().c_str(), formula, t.item(),
              t.grad_fn() ? t.grad_fn()->op.c_str() : "leaf");
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "01_autograd",
    .chinese = "注意力模型的训练过程通常包括哪些步骤？反向传播是如何工作的？",
    .english = "How does backpropagation work? Walk through the training steps of a model.",
    .answer = "The forward pass computes the loss and records a graph of the ops that made it.\n"
              "backward() walks that graph from the loss to the parameters in reverse order; each\n"
              "op multiplies the incoming gradient by its local derivative (the chain rule), and a\n"
              "value used twice adds both contributions. Training repeats: forward, loss, backward,\n"
              "update the parameters against the gradient, clear the gradients.",
    .article = "深度学习与注意力模型应用解析：面试题与编程题满分答案",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  double learning_rate = 0.1;
  int steps = 20;
  flags.add("--lr", learning_rate, "learning rate of the training steps", tutorial::positive(10));
  flags.add("--steps", steps, "training steps in part 6", tutorial::between(1, 100000));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write the gradients and trained parameters into as .npy");
  flags.parse(argc, argv);
  flags.quick(steps, 5);
  tutorial::Checks checks;

  tutorial::section("1. Forward pass: each op computes a value and records a node");
  std::printf("  model: o = tanh(x1*w1 + x2*w2 + b),  loss = (o - target)^2\n\n");
  Tensor x1 = number(2.0, "x1", false), x2 = number(0.0, "x2", false);
  Tensor w1 = number(-3.0, "w1", true), w2 = number(1.0, "w2", true);
  Tensor b = number(6.8813735870195432, "b", true);  // chosen so that o = tanh(n) = 1/sqrt(2)
  Tensor target = number(0.5, "target", false);

  Tensor x1w1 = (x1 * w1).set_name("x1w1");
  Tensor x2w2 = (x2 * w2).set_name("x2w2");
  Tensor n = (x1w1 + x2w2 + b).set_name("n");
  Tensor o = tanh(n).set_name("o");
  Tensor diff = (o - target).set_name("diff");
  Tensor loss = square(diff).set_name("loss");
  show(x1w1, "x1 * w1");
  show(x2w2, "x2 * w2");
  show(n, "x1w1 + x2w2 + b");
  show(o, "tanh(n)");
  show(diff, "o - target");
  show(loss, "diff^2");

  tutorial::section("2. The order backward() visits the nodes (newest first)");
  std::printf("  A node is created after the nodes of its inputs, so visiting the newest first\n"
              "  guarantees that all uses of a value have sent their gradient before it is used.\n\n");
  int position = 1;
  for (const auto& node : backward_order(loss)) {
    std::string name = node->name.empty() ? "(unnamed)" : node->name;
    if (node->is_leaf_accumulator())
      std::printf("  %2d. %-16s %-10s adds into %s.grad()\n", position++, node->op.c_str(),
                  name.c_str(), name.c_str());
    else
      std::printf("  %2d. %-16s %-10s created at line %u\n", position++, node->op.c_str(),
                  name.c_str(), node->site.line());
  }

  tutorial::section("3. Backward pass: the gradient arriving at each value, as the engine runs");
  for (Tensor* t : {&loss, &diff, &o, &n, &x1w1, &x2w2}) {
    t->register_hook([name = t->name()](Array& grad) {
      std::printf("  d loss / d %-5s = %9.5f\n", name.c_str(), grad.item());
    });
  }
  for (Tensor* p : {&w1, &w2, &b}) {
    p->register_hook([name = p->name()](Array& grad) {
      std::printf("  d loss / d %-5s = %9.5f   -> accumulated into %s.grad()\n", name.c_str(),
                  grad.item(), name.c_str());
    });
  }
  loss.backward();

  tutorial::section("4. The same gradients by hand, with the chain rule");
  double o_value = std::tanh(2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432);
  double dloss_do = 2 * (o_value - 0.5);   // d(diff^2)/d diff = 2 diff, and d diff / d o = 1
  double dloss_dn = dloss_do * (1 - o_value * o_value);  // tanh' = 1 - tanh^2
  // n = x1*w1 + x2*w2 + b: an add passes its gradient unchanged to every input, and a mul
  // sends each input the gradient times the *other* input.
  double dloss_dw1 = dloss_dn * 2.0, dloss_dw2 = dloss_dn * 0.0, dloss_db = dloss_dn;
  std::printf("  dloss/do  = 2 (o - target)            = %9.5f\n", dloss_do);
  std::printf("  dloss/dn  = dloss/do * (1 - o^2)      = %9.5f\n", dloss_dn);
  std::printf("  dloss/dw1 = dloss/dn * x1             = %9.5f\n", dloss_dw1);
  std::printf("  dloss/dw2 = dloss/dn * x2             = %9.5f\n", dloss_dw2);
  std::printf("  dloss/db  = dloss/dn                  = %9.5f\n\n", dloss_db);
  checks.close(w1.grad().item(), dloss_dw1, 1e-12, "autograd's w1.grad() equals the hand-derived value");
  checks.close(w2.grad().item(), dloss_dw2, 1e-12, "w2.grad() is 0: x2 = 0 switches w2 off");
  checks.close(b.grad().item(), dloss_db, 1e-12, "b.grad() equals the hand-derived value");

  tutorial::section("5. Finite differences: nudge each parameter, watch the loss");
  std::printf("  d loss / d p ~ (loss(p + eps) - loss(p - eps)) / (2 eps), in float64\n\n");
  GradcheckResult result = gradcheck([&](const std::vector<Tensor>& p) {
    Tensor o2 = tanh(x1 * p[0] + x2 * p[1] + p[2]);
    return square(o2 - target);
  }, {w1, w2, b});
  std::printf("  %s\n\n", result.message.c_str());
  checks.check(result.passed && result.abs_error < 1e-6,
               "finite differences agree with backprop to better than 1e-6");

  tutorial::section("6. Training: forward, loss, backward, update, zero the gradients");
  std::printf("  gradient descent on w1, w2, b with learning rate %g\n\n", learning_rate);
  // Fresh parameters with the same starting values (the ones above carry printing hooks).
  Tensor p_w1 = number(-3.0, "w1", true), p_w2 = number(1.0, "w2", true);
  Tensor p_b = number(6.8813735870195432, "b", true);
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < steps; ++step) {
    Tensor prediction = tanh(x1 * p_w1 + x2 * p_w2 + p_b);     // forward
    Tensor step_loss = square(prediction - target);             // loss
    for (Tensor* p : {&p_w1, &p_w2, &p_b}) p->zero_grad();      // clear old gradients
    step_loss.backward();                                       // backward
    {
      NoGradGuard no_grad;  // the update itself is not part of the model
      for (Tensor* p : {&p_w1, &p_w2, &p_b}) p->data().add_(p->grad().data(), -learning_rate);
    }
    last_loss = step_loss.item();
    if (step == 0) first_loss = last_loss;
    if (step < 5 || step == steps - 1)
      std::printf("  step %2d  loss %.6f  prediction %.4f\n", step, last_loss, prediction.item());
  }
  // The loss after the last update (the loop printed each step's loss before its update).
  double final_loss = square(tanh(x1 * p_w1 + x2 * p_w2 + p_b) - target).item();
  std::printf("  after %d updates: loss %.6f (it started at %.6f)\n", steps, final_loss, first_loss);
  checks.check(final_loss < first_loss, "the updates against the gradient lowered the loss");

  std::printf("\nWhat to notice: backward() visited loss -> diff -> o -> n -> (x1w1, x2w2, b),\n"
              "the reverse of the forward order, and each gradient is the product of the local\n"
              "derivatives on the path from the loss (the chain rule).\n");
  char answer[640];
  std::snprintf(answer, sizeof answer,
                "backward() visited the loss first and the parameters last; each gradient was the\n"
                "product of local derivatives (dloss/dw1 = %.5f by autograd, the same by hand),\n"
                "and finite differences agreed to %.1e. %d steps of forward, loss, backward,\n"
                "update and zero_grad took the loss from %.6f to %.6f.",
                w1.grad().item(), result.abs_error, steps, first_loss, final_loss);
  tutorial::print_answer(kQuestion, answer);
  auto values = [](std::vector<double> v) {
    const auto size = static_cast<std::int64_t>(v.size());
    return autograd::from_vector(std::move(v), {size});
  };
  tutorial::save_npy_files(
      save_dir, {{"inputs", values({x1.item(), x2.item(), target.item()})},  // x1, x2, target
                 {"params", values({w1.item(), w2.item(), b.item()})},       // w1, w2, b
                 {"grads", values({w1.grad().item(), w2.grad().item(), b.grad().item()})},
                 {"learning_rate", values({learning_rate})},
                 {"steps", values({double(steps)})},
                 {"trained", values({p_w1.item(), p_w2.item(), p_b.item()})},
                 {"final_loss", values({final_loss})}});
  std::printf("\nPython twin: tutorials/python/01_autograd.py (make python)\n");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
