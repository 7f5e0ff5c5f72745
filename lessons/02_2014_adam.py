# ---
# jupyter:
#   course:
#     idea: SGD, momentum, RMSProp, Adam and AMSGrad as short optimizer classes, checked
#       step for step against torch.optim; a Rosenbrock race; logistic regression on
#       digits (the paper's section 6.1); why bias correction; Reddi et al.'s counterexample
#     number: '02'
#     papers:
#     - arxiv: '1412.6980'
#       authors: Diederik P. Kingma, Jimmy Ba
#       title: 'Adam: A Method for Stochastic Optimization'
#       year: 2014
#     - arxiv: '1904.09237'
#       authors: Sashank J. Reddi, Satyen Kale, Sanjiv Kumar
#       title: On the Convergence of Adam and Beyond
#       year: 2018
#     - authors: Tijmen Tieleman, Geoffrey E. Hinton
#       note: 'Coursera course Neural Networks for Machine Learning, lecture 6.5: rmsprop,
#         divide the gradient by a running average of its recent magnitude (never published
#         as a paper)'
#       title: Lecture 6.5, rmsprop
#       url: http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf
#       year: 2012
#     - authors: Ilya Sutskever, James Martens, George Dahl, Geoffrey E. Hinton
#       title: On the importance of initialization and momentum in deep learning
#       url: https://proceedings.mlr.press/v28/sutskever13.html
#       year: 2013
#     title: Adam
#     track: foundations
#     year: '2014'
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: course,kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · 2014 · Adam
#
# **Papers**
#
# * Diederik P. Kingma, Jimmy Ba (2014). *Adam: A Method for Stochastic Optimization.* ICLR 2015.
#   [arXiv:1412.6980](https://arxiv.org/abs/1412.6980)
# * Sashank J. Reddi, Satyen Kale, Sanjiv Kumar (2018). *On the Convergence of Adam and Beyond.* ICLR 2018.
#   [arXiv:1904.09237](https://arxiv.org/abs/1904.09237)
# * Tijmen Tieleman, Geoffrey E. Hinton (2012). *Lecture 6.5, rmsprop: divide the gradient by a running
#   average of its recent magnitude.* Coursera, Neural Networks for Machine Learning.
#   [slides](http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf)
# * Ilya Sutskever, James Martens, George Dahl, Geoffrey E. Hinton (2013). *On the importance of
#   initialization and momentum in deep learning.* ICML 2013.
#   [proceedings.mlr.press/v28/sutskever13](https://proceedings.mlr.press/v28/sutskever13.html)
#
# ## The problem before this paper
#
# A network learns by walking downhill on its loss: every step moves each parameter against its
# gradient, `θ ← θ − lr · g`. Plain stochastic gradient descent (SGD) uses **one learning rate for
# every parameter**. But gradients differ in size by orders of magnitude: from layer to layer, between
# frequent and rare input features, and over the course of training. The learning rate has to be small
# enough for the steepest direction, or training blows up. Then the flat directions crawl.
#
# So in 2014 the learning rate was hand work. People tuned it for every model, sometimes for every
# layer, and lowered it by hand when progress stalled (AlexNet, lesson 01, divided it by 10 whenever
# the validation error stopped improving). Two ideas helped:
#
# * **Momentum** (Polyak, 1964; made the standard for deep networks by Sutskever et al., 2013) keeps a
#   running sum of recent gradients. Steps along a direction that stays the same build up; zig-zags
#   across a narrow valley cancel.
# * **Per-parameter step sizes.** AdaGrad (Duchi, Hazan & Singer, 2011) divides each gradient by the
#   square root of the sum of all its past squares, so rarely-seen features get big steps. But that sum
#   only grows, so the steps shrink forever. **RMSProp** (Tieleman & Hinton, 2012, in a Coursera
#   lecture, never a paper) divides by a *running average* of recent squared gradients instead.
#
# ## The key idea
#
# **Adam** ("adaptive moment estimation") does both. For every parameter it keeps two running
# averages: `m`, of the gradient (the first moment, as momentum does), and `v`, of the squared
# gradient (the second raw moment, as RMSProp does). It steps by `m / √v`. Because both averages
# start at zero, their early values are too small, so Adam divides them by `1 − βᵗ` (the **bias
# correction**). The paper's Algorithm 1, for step `t = 1, 2, ...`:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2$$
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \alpha\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}$$
#
# with the defaults α = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸ (all operations elementwise). Three
# properties follow:
#
# * The step does not depend on the **scale** of the gradient: multiply `g` by 1000 and both `m̂` and
#   `√v̂` grow 1000 times; their ratio does not change.
# * The step is **roughly bounded by α**. Usually `|m̂ / √v̂| ≤ 1`, so α says how far a parameter may
#   move in one step, whatever its gradient. The paper calls this a trust region.
# * Where the gradient is noise (its sign keeps changing), `m̂` is small compared with `√v̂`, and the
#   steps shrink by themselves.
#
# ## What changed after
#
# Adam became the default optimizer of deep learning: the first thing to try, and often the last. It
# trained the GANs, the VAEs and the sequence models of the following years; the Transformer (2017)
# used it with β₂ = 0.98 and a warm-up. Image classifiers like ResNet kept SGD with momentum, and
# Wilson et al. (2017) showed that adaptive methods can generalise worse than SGD on some tasks.
#
# Then Reddi, Kale and Kumar (2018, an ICLR best paper) found an error in Adam's convergence proof and
# built a simple convex problem on which Adam converges to the *worst* possible point. Their fix,
# **AMSGrad**, uses the running maximum of `v`, so a parameter's step size can never grow back. In
# practice AMSGrad rarely beats Adam, but the example changed how people think about Adam's moving
# average. Loshchilov & Hutter's AdamW (2017) separated weight decay from the gradient; AdamW became
# the standard optimizer for transformers.
#
# ## What we do here, and what scale changes
#
# We write SGD, momentum, RMSProp, Adam and AMSGrad as short classes and show that each one
# matches `torch.optim` step for step. We race them on the Rosenbrock function, a curved valley that is
# steep across and flat along. We repeat the paper's first experiment (section 6.1), logistic regression,
# on scikit-learn's 8×8 handwritten digits instead of MNIST, with the learning rate of every method tuned
# on a grid, as the paper did. We show what goes wrong in the first steps without bias correction, and
# we run Reddi et al.'s counterexample.
#
# The paper's other experiments (multi-layer networks, convolutional networks, a VAE) ran for many
# passes over MNIST and CIFAR-10; ours take seconds. A convex problem with 650 parameters cannot show
# everything Adam is good at: its big wins came on sparse features and on deep networks whose layers
# have very different gradient scales. On our logistic regression Adam beats plain SGD, and SGD with
# momentum comes close to it, as in the paper. What holds at every scale is the mechanism, and we
# measure it.

# %% [markdown]
# ## 中文导读
#
# 2014 年，Kingma 和 Ba 提出了 **Adam**（adaptive moment estimation，自适应矩估计）优化器。在此之前，
# 随机梯度下降（SGD）对所有参数使用同一个学习率：学习率必须小到能应付最陡的方向，平缓的方向因此走得很慢，
# 学习率和它的衰减方式都要靠人手工调。动量法（momentum）累积最近的梯度，RMSProp 把每个梯度除以它最近平方值
# 的滑动平均的平方根。Adam 把两者结合起来：对每个参数维护梯度的滑动平均 `m`（一阶矩）和梯度平方的滑动平均
# `v`（二阶原点矩），每步移动 `m / √v`；因为两者都从 0 开始，早期的估计偏小，Adam 用 `1 − βᵗ` 做
# **偏差校正**。默认超参数是 α = 0.001、β₁ = 0.9、β₂ = 0.999、ε = 10⁻⁸。它的步长与梯度的尺度无关，
# 大致不超过 α。Adam 很快成为深度学习最常用的优化器。
#
# 2018 年，Reddi、Kale 和 Kumar 指出 Adam 收敛性证明中的错误，并构造了一个简单的凸问题（每 3 步出现一次
# 大梯度 C，其余两步梯度为 −1），在他们选的 β 下 Adam 收敛到最差的点 x = +1；他们提出的 **AMSGrad**
# 用 `v` 的历史最大值，能收敛到最优点 x = −1。
#
# 本课从零写出 SGD、动量、RMSProp、Adam 和 AMSGrad（每个约 10 行），逐步与 `torch.optim` 对比，
# 参数差异不超过 10⁻⁶；在 Rosenbrock 函数上比赛并可视化轨迹（可用下拉框调 Adam 的学习率和 β）；
# 在 scikit-learn 的手写数字上复现论文 6.1 节的逻辑回归实验（每种方法的学习率都在同一网格上调过）；
# 展示去掉偏差校正后最初几步会发生什么；最后复现 Reddi 等人的反例，并说明在默认 β 下 Adam 在这个
# 问题上是正常的。所有数字都来自本课的运行结果。
#
# 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)。

# %%
# Imports. The course's plumbing (data, plots, checks) lives in the `course_utils` package of this
# repository; every idea of the lesson is written out in the cells below.
try:
    from course_utils import checks, data, lessons, params, plot, record, repro, widgets
except ImportError as exc:  # e.g. a hosted notebook service without the course installed
    raise ImportError(
        "This lesson needs the course's `course_utils` package. In the course folder run\n"
        "    make setup        (creates .venv with everything)\n"
        "or  pip install -e .  (installs course_utils into the current Python)\n"
        "then restart the kernel."
    ) from exc

import copy
import math
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): data split, minibatch order and network initialisation
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: a few steps of everything, every code path in seconds; milestones reported, not asserted
CHECK_STEPS = 100  # steps of the step-by-step comparison with torch.optim (10 .. 1000)
ROSEN_STEPS = 2000  # steps of the Rosenbrock race (100 .. 20000)
LR_STEPS = 500  # minibatch steps of the logistic regression, about 50 epochs (50 .. 5000)
BATCH_SIZE = 128  # logistic regression minibatch size; the paper used 128 (8 .. 1024)
L2 = 1e-4  # L2 penalty of the logistic regression, from 0 to 0.01
BC_LR = 0.3  # the large constant learning rate of the bias-correction experiment, from 0.001 to 1
REDDI_C = 3.0  # the counterexample's rare large gradient C; the paper needs C above 2 (2.1 .. 100)
REDDI_STEPS = 3000  # online steps of the counterexample (100 .. 100000)
RARE_STEPS = 10000  # steps of the rarer-gradient variant, 1010x once every 101 steps (0 skips it; up to 100000)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    CHECK_STEPS=params.Int(min=10, max=1000),
    ROSEN_STEPS=params.Int(min=100, max=20000),
    LR_STEPS=params.Int(min=50, max=5000),
    BATCH_SIZE=params.Int(min=8, max=1024),
    L2=params.Float(min=0.0, max=0.01),
    BC_LR=params.Float(min=0.001, max=1.0),
    REDDI_C=params.Float(min=2.1, max=100.0),
    REDDI_STEPS=params.Int(min=100, max=100000),
    RARE_STEPS=params.Int(min=0, max=100000),
)
L2, BC_LR, REDDI_C = (P[k] for k in ("L2", "BC_LR", "REDDI_C"))  # ints become floats
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("02")
plt.show()

# %% [markdown]
# ## 1. The problem: one learning rate for every parameter
#
# Take the simplest badly scaled problem, a bowl that is 100 times steeper in one direction than in the
# other: `f(x, y) = ½ (100 x² + y²)`, with its minimum at (0, 0). Gradient descent multiplies `x` by
# `1 − 100·lr` and `y` by `1 − lr` at every step. The `x` direction is stable only while `100·lr < 2`,
# so `lr` must stay below 0.02. At such a learning rate `y` shrinks by at most 2 % per step.
#
# We write a minimal gradient descent loop (autograd computes the gradient) and run it on both sides of
# the limit.

# %%
def bowl(p):
    """½ (100 x² + y²) for points p (..., 2): steep along x, flat along y."""
    return 0.5 * (100 * p[..., 0] ** 2 + p[..., 1] ** 2)


for lr in (0.019, 0.021):
    p = torch.tensor([1.0, 1.0], requires_grad=True)
    for _ in range(100):
        p.grad = None
        bowl(p).backward()
        with torch.no_grad():
            p -= lr * p.grad
    print(f"lr {lr}: after 100 steps of gradient descent from (1, 1), (x, y) = ({p[0].item():.3g}, {p[1].item():.3g})")

# %% [markdown]
# Just below the limit, `x` is at the minimum long before `y`, which is still far from 0 (printed above);
# just above the limit, `x` has blown up.
# No single learning rate suits both directions. A deep network has millions of directions with
# curvatures spread over many orders of magnitude, and their gradients change size during training.
# Adam's answer is to give every parameter its own step size, estimated from its own gradients.
#
# ## 2. Five optimizers, about ten lines each
#
# An optimizer holds the tensors it updates and, for each of them, a little **state** (the running
# averages). At every step it turns each gradient into a change of the parameter. That common plumbing
# goes into a tiny base class; each optimizer only writes `update(p, g, s)`: the change to subtract
# from parameter `p`, given its gradient `g` and its state dict `s`.

# %%
class Optimizer:
    """The part every optimizer shares: the tensors it updates, one state dict per tensor, a step counter."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr
        self.state = [{} for _ in self.params]  # e.g. the running averages of each tensor
        self.t = 0  # steps taken so far

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()  # the update itself is not part of the graph autograd differentiates
    def step(self):
        self.t += 1
        for p, s in zip(self.params, self.state):
            if p.grad is not None:
                p -= self.update(p, p.grad, s)

    def update(self, p, g, s):
        """The change to subtract from p, given its gradient g and its state s. Each optimizer writes this."""
        raise NotImplementedError


class SGD(Optimizer):
    """Plain (stochastic) gradient descent: the same learning rate for every parameter."""

    def update(self, p, g, s):
        return self.lr * g


# %% [markdown]
# To check each optimizer as it appears, we feed it the **same gradient** `g = (100, 0.01)` at every step,
# a steep and a flat direction 10,000 times apart, and look at the steps it takes. For SGD the answer is
# trivial: every step is `lr · g`, 10,000 times longer along the steep direction.

# %%
G_TEST = torch.tensor([100.0, 0.01])  # a steep and a flat direction


def steps_on_constant_gradient(make, g=G_TEST, n=100):
    """The n changes an optimizer makes when it sees the same gradient g at every step, shape (n, len(g))."""
    p = torch.zeros_like(g, requires_grad=True)
    opt = make([p])
    changes = []
    for _ in range(n):
        p.grad = g.clone()
        before = p.detach().clone()
        opt.step()
        changes.append(before - p.detach())
    return torch.stack(changes)


sgd_steps = steps_on_constant_gradient(lambda ps: SGD(ps, lr=0.01))
checks.check_close(sgd_steps, (0.01 * G_TEST).expand(100, 2), "SGD: every step is lr·g")

# %% [markdown]
# ### Momentum
#
# Momentum keeps a velocity `v`, a running sum of past gradients in which older ones fade by a factor
# μ (typically 0.9) per step, and steps along it:
#
# $$v_t = \mu\, v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \text{lr}\cdot v_t$$
#
# This is PyTorch's form. Sutskever et al. (2013) write `v ← μv − ε g`, `θ ← θ + v`: the same steps as
# long as the learning rate stays constant. With a constant gradient the velocity grows to `g / (1 − μ)`,
# so the steps grow to 10 times `lr · g` for μ = 0.9. That is the point: a direction the gradient keeps
# pointing to gets a larger effective learning rate, while gradients that flip sign average out.

# %%
class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum: v <- mu·v + g, then step lr·v."""

    def __init__(self, params, lr, momentum=0.9):
        super().__init__(params, lr)
        self.momentum = momentum

    def update(self, p, g, s):
        s["v"] = self.momentum * s.get("v", 0.0) + g  # past gradients, fading by mu per step
        return self.lr * s["v"]


mom_steps = steps_on_constant_gradient(lambda ps: Momentum(ps, lr=0.01, momentum=0.9))
t = torch.arange(1, 101).unsqueeze(1)
checks.check_close(mom_steps, 0.01 * G_TEST * (1 - 0.9 ** t) / (1 - 0.9), "momentum: steps = lr·g·(1 − μᵗ)/(1 − μ)",
                   rtol=1e-5)
print(f"momentum, steep direction: step 1 = {mom_steps[0, 0] / (0.01 * 100):.2f} × lr·g, "
      f"step 100 = {mom_steps[-1, 0] / (0.01 * 100):.2f} × lr·g")

# %% [markdown]
# ### RMSProp
#
# RMSProp divides each gradient by the root of a running average of its recent squares:
#
# $$v_t = \alpha\, v_{t-1} + (1-\alpha)\, g_t^2, \qquad \theta_t = \theta_{t-1} - \text{lr}\cdot \frac{g_t}{\sqrt{v_t} + \epsilon}$$
#
# A parameter with big gradients gets a big `v` and so a smaller step; one with small gradients gets a
# larger step. For a constant gradient `√v → |g|`, and every parameter moves by about `lr` per step,
# whatever its gradient. Hinton's lecture used α = 0.9; PyTorch's default is α = 0.99. (PyTorch adds ε
# *outside* the square root, as we do here. Some libraries add it inside; with ε = 10⁻⁸ the difference
# only matters for gradients close to zero.)
#
# The running average starts at `v₀ = 0`, and nothing corrects for that: after one step `v₁ = (1−α) g²`,
# so the first step is `lr / √(1−α)`, that is, 10 times `lr` for α = 0.99. Remember this for section 7.

# %%
class RMSProp(Optimizer):
    """Divide each gradient by the root of a running average of its recent squares (Tieleman & Hinton, 2012)."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        super().__init__(params, lr)
        self.alpha, self.eps = alpha, eps

    def update(self, p, g, s):
        s["v"] = self.alpha * s.get("v", 0.0) + (1 - self.alpha) * g * g  # running mean of g²
        return self.lr * g / (s["v"].sqrt() + self.eps)  # eps outside the root, as in torch.optim.RMSprop


rms_steps = steps_on_constant_gradient(lambda ps: RMSProp(ps, lr=0.01, alpha=0.99))
expected = 0.01 * G_TEST / (G_TEST.abs() * torch.sqrt(1 - 0.99 ** t) + 1e-8)
checks.check_close(rms_steps, expected, "RMSProp: steps = lr·g / (|g|·√(1 − αᵗ) + ε)", rtol=1e-5)
print(f"RMSProp: first step {rms_steps[0, 0] / 0.01:.1f} × lr in both directions, "
      f"step 100 {rms_steps[-1, 0] / 0.01:.2f} × lr (steep) and {rms_steps[-1, 1] / 0.01:.2f} × lr (flat)")

# %% [markdown]
# ### Adam
#
# Adam keeps both running averages, corrects both for their start at zero, and steps by their ratio
# (Algorithm 1 above). The class has a `bias_correction` switch so that section 7 can switch the
# correction off. Its hyperparameters may be numbers or tensors; tensors let us run many settings at once
# later on.

# %%
class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014, Algorithm 1): running averages of g and g², bias-corrected, step m̂ / (√v̂ + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bias_correction=True):
        super().__init__(params, lr)
        self.betas, self.eps, self.bias_correction = betas, eps, bias_correction

    def moments(self, g, s):
        b1, b2 = self.betas
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g  # first moment: running mean of g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g  # second raw moment: running mean of g²
        return s["m"], s["v"]

    def update(self, p, g, s):
        b1, b2 = self.betas
        m, v = self.moments(g, s)
        if self.bias_correction:  # the averages started at 0: divide by the weight they have gathered so far
            m, v = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
        return self.lr * m / (v.sqrt() + self.eps)


adam_steps = steps_on_constant_gradient(lambda ps: Adam(ps, lr=0.01))
checks.check_close(adam_steps, torch.full((100, 2), 0.01), "Adam: every step is lr in both directions", rtol=1e-6)
adam_scaled = steps_on_constant_gradient(lambda ps: Adam(ps, lr=0.01), g=1000 * G_TEST)
checks.check_close(adam_scaled, adam_steps, "Adam: gradient × 1000 gives the same steps", rtol=1e-6)

# %% [markdown]
# For a constant gradient the corrected averages are exact from the first step (`m̂ = g`, `v̂ = g²`), so
# every step is `lr · g / |g|`: exactly `lr` in every direction, steep or flat, and the same when the
# gradient is 1000 times larger.
#
# ### AMSGrad
#
# Reddi et al. (2018) showed that Adam can fail when a large, informative gradient comes only rarely:
# `v` forgets it within a few steps, and the step size grows back (section 8). **AMSGrad** divides by the
# running **maximum** of `v` instead, so the memory of a large gradient never fades. PyTorch's version
# (`torch.optim.Adam(amsgrad=True)`) keeps the maximum of the raw `v` and then applies Adam's bias
# correction to it; we do the same. (The paper's AMSGrad has no bias correction at all, so there its step
# sizes can only shrink; with the correction they can still grow a little in the first steps, while
# `1 − β₂ᵗ` climbs to 1.)

# %%
class AMSGrad(Adam):
    """Adam that divides by the running maximum of v, so the step size of a parameter can never grow back."""

    def update(self, p, g, s):
        b1, b2 = self.betas
        m, v = self.moments(g, s)
        s["v_max"] = torch.maximum(s.get("v_max", v), v)  # the long-term memory
        v = s["v_max"]
        if self.bias_correction:
            m, v = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
        return self.lr * m / (v.sqrt() + self.eps)


# One large gradient, then small ones of the same sign: what does each method remember of the large one?
def steps_on_gradients(make, grads):
    """The changes an optimizer makes for a sequence of one-number gradients, and the v it divided by at each step."""
    p = torch.zeros(1, requires_grad=True)
    opt = make([p])
    changes, memory = [], []
    for g in grads:
        p.grad = torch.tensor([g])
        before = p.detach().clone()
        opt.step()
        changes.append((before - p.detach()).item())
        memory.append(opt.state[0].get("v_max", opt.state[0]["v"]).item())  # AMSGrad's v_max, else Adam's v
    return np.array(changes), np.array(memory)


spike = [10.0] + [1.0] * 29
adam_spike, adam_v = steps_on_gradients(lambda ps: Adam(ps, lr=0.01, betas=(0.0, 0.9)), spike)
ams_spike, ams_v = steps_on_gradients(lambda ps: AMSGrad(ps, lr=0.01, betas=(0.0, 0.9)), spike)
checks.check(bool(np.all(np.diff(ams_v) >= 0)), "AMSGrad's v_max should never decrease.",
             ok_message="AMSGrad: v_max never decreases, so the large gradient is never forgotten.")
print(f"gradients 10, then 1, 1, ... (β1 0, β2 0.9), at step 30: Adam divides by √v = {math.sqrt(adam_v[-1]):.2f} "
      f"and steps {adam_spike[-1] / 0.01:.2f} × lr; AMSGrad divides by √v_max = {math.sqrt(ams_v[-1]):.2f} "
      f"and steps {ams_spike[-1] / 0.01:.2f} × lr")

# %% [markdown]
# All five side by side, on the constant gradient `g = (100, 0.01)`. Each panel shows the step taken
# along one direction, divided by `lr` (log scale).

# %%
all_steps = {"SGD": sgd_steps, "momentum 0.9": mom_steps, "RMSProp": rms_steps, "Adam": adam_steps,
             "AMSGrad": steps_on_constant_gradient(lambda ps: AMSGrad(ps, lr=0.01))}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for j, (ax, name) in enumerate(zip(axes, ["steep direction, g = 100", "flat direction, g = 0.01"])):
    for k, (label, st) in enumerate(all_steps.items()):
        ax.semilogy(np.arange(1, 101), st[:, j].numpy() / 0.01, color=plot.COLORS[k],
                    ls="--" if label == "AMSGrad" else "-", lw=3 if label == "Adam" else 1.5, label=label)
    ax.set(title=f"Steps for a constant gradient: {name}", xlabel="step t", ylabel="step / lr (log scale)")
axes[1].legend(loc="upper right", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# SGD and momentum take steps proportional to the gradient, so the steep direction moves 10,000 times
# faster than the flat one; momentum makes both 10 times longer as it builds up speed. RMSProp, Adam and
# AMSGrad take the same step in both directions. RMSProp's first steps are too large, because its
# average of `g²` starts at zero. Adam's bias correction removes exactly that (AMSGrad's curve lies on
# Adam's).
#
# ## 3. Checked against `torch.optim`, step for step
#
# Now the real test. We train two copies of the same small network (64 → 32 → 10, tanh) on the digits,
# one with our optimizer and one with PyTorch's, on the same minibatches, for `CHECK_STEPS` steps. After
# every step we compare all parameters. Each optimizer runs in two settings; for Adam and AMSGrad these
# are the paper's defaults (lr 0.001, betas (0.9, 0.999)) and a larger learning rate with other betas.
#
# Both sides compute the same formulas, but not in the same order. For example, PyTorch computes Adam as
# `θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`, which is the same number up to rounding. So we
# expect differences of a few float32 rounding steps (float32 numbers near 1 are 1.2·10⁻⁷ apart),
# not zero.

# %%
x_digits, y_digits = data.load_digits()  # the real 8×8 scikit-learn digits, pixels in [0, 1]
x_digits = x_digits.flatten(1).to(device)  # (1797, 64)
y_digits = y_digits.to(device)
print(f"digits: {tuple(x_digits.shape)} inputs, {len(torch.unique(y_digits))} classes")
N_CHECK = CHECK_STEPS if not SMOKE else 10


def max_diff_vs_torch(make_ours, make_theirs, steps=N_CHECK, seed=SEED):
    """Train two copies of a small net on the same batches, one with each optimizer.

    Returns the largest |difference| between their parameters, over all parameters and all steps."""
    torch.manual_seed(seed)
    net_ours = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).to(device)
    net_theirs = copy.deepcopy(net_ours)
    opt_ours, opt_theirs = make_ours(list(net_ours.parameters())), make_theirs(net_theirs.parameters())
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for _ in range(steps):
        idx = torch.randint(0, len(x_digits), (64,), generator=gen).to(device)
        for net, opt in ((net_ours, opt_ours), (net_theirs, opt_theirs)):
            opt.zero_grad()
            F.cross_entropy(net(x_digits[idx]), y_digits[idx]).backward()
            opt.step()
        worst = max(worst, max((a - b).abs().max().item() for a, b in zip(net_ours.parameters(), net_theirs.parameters())))
    return worst


torch_cases = {
    "SGD": [("lr 0.1", lambda ps: SGD(ps, lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
            ("lr 0.5", lambda ps: SGD(ps, lr=0.5), lambda ps: torch.optim.SGD(ps, lr=0.5))],
    "momentum": [("lr 0.05, μ 0.9", lambda ps: Momentum(ps, lr=0.05, momentum=0.9),
                  lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
                 ("lr 0.01, μ 0.99", lambda ps: Momentum(ps, lr=0.01, momentum=0.99),
                  lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.99))],
    "RMSProp": [("lr 0.001, α 0.99 (torch's α)", lambda ps: RMSProp(ps, lr=0.001),
                 lambda ps: torch.optim.RMSprop(ps, lr=0.001)),
                ("lr 0.001, α 0.9 (Hinton's α)", lambda ps: RMSProp(ps, lr=0.001, alpha=0.9),
                 lambda ps: torch.optim.RMSprop(ps, lr=0.001, alpha=0.9))],
    "Adam": [("the paper's defaults", lambda ps: Adam(ps), lambda ps: torch.optim.Adam(ps)),
             ("lr 0.01, betas (0.8, 0.99)", lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99)),
              lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99)))],
    "AMSGrad": [("the paper's defaults", lambda ps: AMSGrad(ps), lambda ps: torch.optim.Adam(ps, amsgrad=True)),
                ("lr 0.01, betas (0.8, 0.99)", lambda ps: AMSGrad(ps, lr=0.01, betas=(0.8, 0.99)),
                 lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), amsgrad=True))],
}
t0 = time.perf_counter()
worst_diff = {}
print(f"{'ours vs torch.optim':12s} {'setting':36s} max |difference| over {N_CHECK} steps")
for name, cases in torch_cases.items():
    for setting, ours, theirs in cases:
        d = max_diff_vs_torch(ours, theirs)
        worst_diff[name] = max(worst_diff.get(name, 0.0), d)
        print(f"{name:12s} {setting:36s} {d:.1e}")
print(f"({time.perf_counter() - t0:.1f} s)")
checks.milestone("adam_matches_torch", worst_diff["Adam"], 1e-6, "<=",
                 note=f"max |our Adam − torch.optim.Adam| over all parameters and {N_CHECK} steps, two settings")
checks.milestone("amsgrad_matches_torch", worst_diff["AMSGrad"], 1e-6, "<=",
                 note=f"max |our AMSGrad − torch.optim.Adam(amsgrad=True)|, {N_CHECK} steps, two settings")
for name in ("SGD", "momentum", "RMSProp"):
    record.metric(f"{name.lower()}_vs_torch_max_diff", worst_diff[name])

# %% [markdown]
# Every difference is below 10⁻⁶ (printed above): a few float32 rounding steps of the weights. Our
# ten-line classes compute what `torch.optim` computes. From here on we use our own classes everywhere.
#
# ## 4. A race on the Rosenbrock valley
#
# Rosenbrock's function `f(x, y) = (1 − x)² + 100 (y − x²)²` is a classic test for optimizers. Its
# minimum, 0 at (1, 1), lies at the bottom of a long, curved, flat valley with steep walls: the bowl of
# section 1, bent into a banana. We start every optimizer at the classic point (−1.2, 1).
#
# A fair race needs a fair learning rate for each runner. We try each optimizer with 8 learning rates from
# 0.0001 to 0.3 and keep, for each, the one that first gets `f` below 10⁻⁴ (or, if none does, the one
# that ends lowest). All other hyperparameters stay at their defaults.
#
# Every optimizer above works elementwise, and its hyperparameters can be tensors. So 8 independent runs
# are just one tensor of shape (8, 2), with a learning rate of shape (8, 1): row `k` is run `k`. These tiny
# two-number problems run on the CPU in float64, whatever `DEVICE` is.

# %%
def rosenbrock(p):
    """(1 − x)² + 100 (y − x²)² for points p (..., 2). Minimum 0 at (1, 1)."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


START = (-1.2, 1.0)
N_ROSEN = ROSEN_STEPS if not SMOKE else 100
TARGET_F = 1e-4


def run_rosenbrock(make, n_runs, n_steps=N_ROSEN):
    """n_runs independent runs from START, as one (n_runs, 2) tensor. Returns the path, (n_steps + 1, n_runs, 2)."""
    p = torch.tensor([START] * n_runs, dtype=torch.float64, requires_grad=True)
    opt = make([p])
    path = torch.empty(n_steps + 1, n_runs, 2, dtype=torch.float64)
    path[0] = p.detach()
    for t in range(n_steps):
        opt.zero_grad()
        rosenbrock(p).sum().backward()  # a sum: each run's gradient depends on its own point only
        opt.step()
        with torch.no_grad():
            p.nan_to_num_(nan=1e3).clamp_(-1e3, 1e3)  # a run that blew up stays far away, without inf or nan
        path[t + 1] = p.detach()
    return path


def col(values):
    """A list of hyperparameter values as a (K, 1) float64 tensor: one row per run."""
    return torch.tensor(values, dtype=torch.float64).view(-1, 1)


RACE_LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
runners = {
    "SGD": lambda ps, lr: SGD(ps, lr=lr),
    "momentum": lambda ps, lr: Momentum(ps, lr=lr, momentum=0.9),
    "RMSProp": lambda ps, lr: RMSProp(ps, lr=lr),
    "Adam": lambda ps, lr: Adam(ps, lr=lr),
    "AMSGrad": lambda ps, lr: AMSGrad(ps, lr=lr),
}
t0 = time.perf_counter()
race = {}
for name, make in runners.items():
    path = run_rosenbrock(lambda ps: make(ps, col(RACE_LRS)), len(RACE_LRS))
    f = rosenbrock(path).numpy()  # (steps + 1, runs)
    reached = f <= TARGET_F
    hit = np.where(reached.any(0), reached.argmax(0), np.inf)  # first step below the target, per learning rate
    k = int(np.argmin(hit)) if np.isfinite(hit).any() else int(np.argmin(f[-1]))
    race[name] = {"path": path[:, k].numpy(), "f": f[:, k], "lr": RACE_LRS[k], "hit": hit[k], "final_by_lr": f[-1]}
print(f"({time.perf_counter() - t0:.1f} s)")
print(f"{'optimizer':10s} {'best lr':>8s} {'steps to f < 1e-4':>18s} {'final f':>10s}")
for name, r in race.items():
    steps_txt = f"{r['hit']:.0f}" if np.isfinite(r["hit"]) else f"not in {N_ROSEN}"
    print(f"{name:10s} {r['lr']:8g} {steps_txt:>18s} {r['f'][-1]:10.2e}")
f_start = rosenbrock(torch.tensor(START)).item()
for name, r in race.items():
    worse = [lr for lr, fin in zip(RACE_LRS, r["final_by_lr"]) if not fin < f_start]
    print(f"{name:10s} ends above its start (f {f_start:.1f}) at lr: {', '.join(f'{lr:g}' for lr in worse) or 'none'}")

# %%
XS, YS = np.meshgrid(np.linspace(-2.0, 2.0, 300), np.linspace(-1.0, 3.0, 300))
ZS = rosenbrock(torch.from_numpy(np.stack([XS, YS], -1))).numpy()


def draw_valley(ax):
    """Rosenbrock's contours (log-spaced levels), the start and the minimum."""
    levels = np.logspace(-1, 3.5, 14)
    ax.contourf(XS, YS, ZS, levels=levels, cmap="Greys_r", alpha=0.25, extend="both",
                norm=matplotlib.colors.LogNorm())
    ax.contour(XS, YS, ZS, levels=levels, colors="0.45", linewidths=0.6)
    ax.plot(*START, "ko", ms=6)
    ax.plot(1, 1, "k*", ms=13)
    ax.set(xlim=(-2, 2), ylim=(-1, 3), xlabel="x", ylabel="y")


fig, (ax_map, ax_f) = plt.subplots(1, 2, figsize=(12, 4.6))
draw_valley(ax_map)
steps_axis = np.arange(N_ROSEN + 1)
for k, (name, r) in enumerate(race.items()):
    label = f"{name} (lr {r['lr']:g})"
    ax_map.plot(r["path"][:, 0], r["path"][:, 1], "-", color=plot.COLORS[k], lw=1.3, alpha=0.9, label=label)
    ax_f.semilogy(steps_axis, np.maximum(r["f"], 1e-20), color=plot.COLORS[k], label=label)
ax_map.set_title("Paths from the start (●) to the minimum (★), each at its best lr")
ax_map.legend(loc="upper left", fontsize=9)
ax_f.axhline(TARGET_F, color="k", ls=":", lw=1, label="target 1e-4")
ax_f.set(title="f along the way", xlabel="step", ylabel="f(x, y) (log scale, floor 1e-20)", ylim=(1e-20, 1e3))
ax_f.legend(loc="lower left", fontsize=9)
fig.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(7, 4))
for k, (name, r) in enumerate(race.items()):
    ax.loglog(RACE_LRS, np.clip(r["final_by_lr"], 1e-20, 1e7), "o-", color=plot.COLORS[k], label=name)
ax.axhline(f_start, color="0.5", ls="--", lw=1, label="f at the start")
ax.set(title=f"Which learning rates work? f after {N_ROSEN} steps", xlabel="learning rate",
       ylabel="final f (clipped to [1e-20, 1e7])")
ax.legend(fontsize=9)
plt.show()
for name in ("SGD", "Adam"):
    record.metric(f"rosenbrock_{name.lower()}_steps_to_1e-4", float(race[name]["hit"]) if np.isfinite(race[name]["hit"]) else -1)

# %% [markdown]
# Read the two figures together.
#
# * **SGD** is stuck with a small learning rate: from 0.01 up it blows up on the steep walls (the points
#   at the top of the second figure). It creeps down the valley floor and does not reach the target.
# * **Momentum**, at a learning rate just as small, builds up speed along the valley floor and wins this
#   race (the table above). On a smooth two-dimensional problem, well-tuned momentum is hard to beat.
#   But it blows up from the same learning rate as SGD.
# * **RMSProp** takes steps of about `lr` in each coordinate whatever the gradient, so it gets down the
#   walls quickly, but without momentum it rattles around the valley floor.
# * **Adam** and **AMSGrad** combine both: they get down the walls quickly and then follow the valley
#   floor. Whether each ends below the target is in the table above; Adam's curve shows why it may not.
#
# The second figure shows the property that made Adam popular. SGD and momentum blow up as soon as the
# learning rate is too large for the steepest direction. RMSProp, Adam and AMSGrad end below their
# starting point at *every* learning rate on the grid: their steps are at most about `lr`, so a learning
# rate that is too large makes them jitter, not explode. This is the paper's "trust region".
#
# Look again at Adam's curve in the first figure: at its best learning rate it reaches the minimum,
# then **jumps out of it**. Near the minimum the gradient keeps shrinking, and `v`, an average over
# about the last thousand steps, slowly forgets the larger gradients of before. Then `m̂ / √v̂` creeps
# back towards 1 and the step grows back towards `lr`, far too large for the bottom of the valley.
# AMSGrad's `v_max` does not forget, so its steps keep shrinking and it settles. Section 8 shows the
# same forgetting at its worst. (In practice a learning rate that decays during training prevents the
# jumps.)
#
# ## 5. Explore: Adam's learning rate and betas
#
# The dropdown below picks one of 48 Adam settings (4 learning rates × 4 values of β₁ × 3 values of β₂),
# all precomputed in a single batched run, so the figure only redraws. The grey curve is always the
# default view, lr 0.1 with the paper's betas. Things to try, at lr 0.1:
#
# * β₁ = 0: no momentum. Adam becomes RMSProp with bias correction, and rattles around the valley floor
#   as RMSProp did in the race.
# * β₁ = 0.99: heavy momentum. The path swings from wall to wall down the valley.
# * β₂ = 0.9: a short memory for `v`. Near the minimum `v` follows the shrinking gradient at once, so
#   the steps stay about `lr` long and Adam keeps bouncing around the minimum instead of settling.
#
# Then try the other learning rates. (A run that jumps around is chaotic: after a jump, its exact curve
# can differ from one machine to another, even from the race's run with the same setting.)

# %%
W_LRS, W_B1S, W_B2S = [0.01, 0.03, 0.1, 0.3], [0.0, 0.5, 0.9, 0.99], [0.9, 0.99, 0.999]
grid = [(lr, b1, b2) for lr in W_LRS for b1 in W_B1S for b2 in W_B2S]
t0 = time.perf_counter()
grid_paths = run_rosenbrock(lambda ps: Adam(ps, lr=col([g[0] for g in grid]),
                                            betas=(col([g[1] for g in grid]), col([g[2] for g in grid]))),
                            len(grid)).numpy()
grid_f = rosenbrock(torch.from_numpy(grid_paths)).numpy()
print(f"{len(grid)} Adam runs of {N_ROSEN} steps in one batch ({time.perf_counter() - t0:.1f} s)")
grid_labels = [f"lr {lr:g} · β1 {b1:g} · β2 {b2:g}" for lr, b1, b2 in grid]


ADAM_DEFAULT_VIEW = "lr 0.1 · β1 0.9 · β2 0.999"


def draw_adam(label):
    """Adam's path on the Rosenbrock valley and f along the way, for one precomputed setting."""
    k, k0 = grid_labels.index(label), grid_labels.index(ADAM_DEFAULT_VIEW)
    fig, (ax_map, ax_f) = plt.subplots(1, 2, figsize=(12, 4.4))
    draw_valley(ax_map)
    ax_map.plot(grid_paths[:, k0, 0], grid_paths[:, k0, 1], "-", color="0.6", lw=1, label=ADAM_DEFAULT_VIEW)
    ax_map.plot(grid_paths[:, k, 0], grid_paths[:, k, 1], "-", color=plot.COLORS[3], lw=1.3, label=label)
    ax_map.set_title(f"Adam, {label}")
    ax_map.legend(loc="upper left", fontsize=9)
    ax_f.semilogy(steps_axis, np.maximum(grid_f[:, k0], 1e-20), color="0.6", label=ADAM_DEFAULT_VIEW)
    ax_f.semilogy(steps_axis, np.maximum(grid_f[:, k], 1e-20), color=plot.COLORS[3], label=label)
    ax_f.set(title=f"f along the way: {grid_f[-1, k]:.1e} after {N_ROSEN} steps", xlabel="step",
             ylabel="f(x, y) (log scale, floor 1e-20)", ylim=(1e-20, 1e3))
    ax_f.legend(loc="lower left", fontsize=9)
    fig.tight_layout()
    return fig


adam_picker = widgets.explore(draw_adam, grid_labels, ADAM_DEFAULT_VIEW, "Adam setting", kind="dropdown")

# %% [markdown]
# ## 6. The paper's first experiment: logistic regression (section 6.1)
#
# The paper's first test is L2-regularised multi-class logistic regression on MNIST: a convex problem,
# so the comparison is about speed, not about luck with local minima. The step size decays as
# `αₜ = α / √t`, the minibatch has 128 examples, and every method's hyperparameters were searched on a
# grid, with the best setting reported. The paper found that "Adam yields similar convergence as SGD
# with momentum and both converge faster than Adagrad" (it used Nesterov's momentum).
#
# We do the same on the 1,797 scikit-learn digits: 64 pixels in, 10 classes out, 650 parameters,
# weights starting at zero, 500 digits held out. Every optimizer tries the same 11 learning rates, from
# 0.001 to 100 in steps of √10, on the same minibatches, with the paper's `1/√t` decay. We keep, for each,
# the learning rate with the lowest training loss after `LR_STEPS` steps. Only the learning rate is
# tuned: momentum stays at 0.9 and Adam's betas at their defaults. As in section 4, the 11 runs of one
# optimizer are one batched tensor: weights of shape (11, 64, 10).

# %%
perm = torch.randperm(len(y_digits), generator=torch.Generator().manual_seed(SEED)).to(device)
N_TEST = 500
x_test, y_test = x_digits[perm[:N_TEST]], y_digits[perm[:N_TEST]]
x_train, y_train = x_digits[perm[N_TEST:]], y_digits[perm[N_TEST:]]
if SMOKE:
    x_train, y_train = x_train[:300], y_train[:300]
N_LR_STEPS = LR_STEPS if not SMOKE else 20
LR_GRID = [10 ** (k / 2) for k in range(-6, 5)]  # 0.001, 0.0032, 0.01, ..., 100
print(f"train {tuple(x_train.shape)}, held out {tuple(x_test.shape)}; learning rates tried: "
      + ", ".join(f"{lr:.2g}" for lr in LR_GRID))


def logreg_loss(W, b, x, y):
    """Cross-entropy plus the L2 penalty, for K logistic regressions at once: W (K, 64, 10), b (K, 1, 10) -> (K,)."""
    logits = torch.einsum("nd,kdc->knc", x, W) + b  # (K, N, 10)
    k = W.shape[0]
    ce = F.cross_entropy(logits.reshape(-1, 10), y.repeat(k), reduction="none").view(k, -1).mean(1)
    return ce + 0.5 * L2 * (W ** 2).sum(dim=(1, 2))


def train_logreg(make, lrs, n_steps=N_LR_STEPS, decay=True, every=10, watch_steps=False):
    """Train len(lrs) logistic regressions with one optimizer class, one learning rate each, same minibatches.

    Returns the full training loss every `every` steps (steps, (n_records, K)), the held-out accuracy (K,),
    and, if watch_steps, the median |change| / lr of the weights at every step ((n_steps, K))."""
    k = len(lrs)
    W = torch.zeros(k, 64, 10, device=device, requires_grad=True)
    b = torch.zeros(k, 1, 10, device=device, requires_grad=True)
    lr0 = torch.tensor(lrs, device=device).view(k, 1, 1)
    opt = make([W, b], lr0)
    gen = torch.Generator().manual_seed(SEED)  # the same minibatches for every optimizer
    order, pos = torch.randperm(len(y_train), generator=gen), 0
    steps, losses, rel_steps = [0], [logreg_loss(W, b, x_train, y_train).detach()], []
    for t in range(1, n_steps + 1):
        if pos + BATCH_SIZE > len(y_train):  # a new epoch: reshuffle
            order, pos = torch.randperm(len(y_train), generator=gen), 0
        idx = order[pos:pos + BATCH_SIZE].to(device)
        pos += BATCH_SIZE
        opt.lr = lr0 / math.sqrt(t) if decay else lr0  # the paper's α_t = α / √t
        W_before = W.detach().clone()
        opt.zero_grad()
        logreg_loss(W, b, x_train[idx], y_train[idx]).sum().backward()  # a sum: the K runs stay independent
        opt.step()
        if watch_steps:
            rel_steps.append(((W_before - W.detach()).abs() / opt.lr).flatten(1).median(dim=1).values)
        if t % every == 0 or t == n_steps:
            steps.append(t)
            losses.append(logreg_loss(W, b, x_train, y_train).detach())
    with torch.no_grad():
        acc = ((torch.einsum("nd,kdc->knc", x_test, W) + b).argmax(-1) == y_test).float().mean(1)
    out = {"steps": np.array(steps), "loss": torch.stack(losses).cpu().numpy(), "acc": acc.cpu().numpy()}
    if watch_steps:
        out["rel_steps"] = torch.stack(rel_steps).cpu().numpy()
    return out


t0 = time.perf_counter()
logreg = {}
for name, make in runners.items():  # the same five optimizers as in the Rosenbrock race
    out = train_logreg(make, LR_GRID)
    final = np.nan_to_num(out["loss"][-1], nan=np.inf)
    k = int(np.argmin(final))
    logreg[name] = {**out, "best": k, "lr": LR_GRID[k], "final": final[k], "final_by_lr": final}
print(f"({time.perf_counter() - t0:.1f} s)")
print(f"{'optimizer':10s} {'best lr':>8s} {'training loss':>14s} {'held-out accuracy':>18s}")
for name, r in logreg.items():
    print(f"{name:10s} {r['lr']:8.2g} {r['final']:14.4f} {r['acc'][r['best']]:18.3f}")
ratio_sgd = logreg["SGD"]["final"] / logreg["Adam"]["final"]
ratio_mom = logreg["momentum"]["final"] / logreg["Adam"]["final"]
print(f"after {N_LR_STEPS} steps: SGD's loss / Adam's = {ratio_sgd:.2f}; momentum's / Adam's = {ratio_mom:.2f}")

# %%
fig, (ax_c, ax_t) = plt.subplots(1, 2, figsize=(12, 4.3))
for k, (name, r) in enumerate(logreg.items()):
    ax_c.semilogy(r["steps"], r["loss"][:, r["best"]], color=plot.COLORS[k], ls="--" if name == "AMSGrad" else "-",
                  label=f"{name} (lr {r['lr']:.2g})")
    ax_t.loglog(LR_GRID, np.clip(r["final_by_lr"], None, 10), "o-", color=plot.COLORS[k], label=name)
ax_c.set(title=f"Logistic regression on digits, each at its best lr (batch {BATCH_SIZE}, α/√t)",
         xlabel="step", ylabel="training loss (cross-entropy + L2)")
ax_c.legend()
ax_t.set(title=f"Tuning: training loss after {N_LR_STEPS} steps vs lr", xlabel="initial learning rate α",
         ylabel="final training loss (clipped at 10)")
ax_t.legend(fontsize=9)
fig.tight_layout()
plt.show()
checks.milestone("sgd_over_adam_loss", ratio_sgd, 1.3, ">=",
                 note=f"logistic regression on digits, training loss after {N_LR_STEPS} steps, SGD / Adam, "
                      "each at its best of 11 learning rates, α/√t decay")
record.metric("momentum_over_adam_loss", ratio_mom)
record.metric("adam_heldout_acc", float(logreg["Adam"]["acc"][logreg["Adam"]["best"]]))

# %% [markdown]
# Adam ends with a lower training loss than plain SGD, each at its own best learning rate (the ratio
# is printed above), and SGD needed a far larger learning rate to get there. Part of the reason is the
# data: the inputs are pixels between 0 and 1, all positive, with a mean near 0.3, and some are almost
# always 0. That makes the loss much steeper along some weight directions than along others: the bowl of
# section 1 again, in 650 dimensions. Adam's per-parameter steps absorb some of those differences; SGD
# cannot.
#
# Momentum ends close to Adam (printed above), which is what the paper saw with Nesterov momentum on
# MNIST. The held-out
# accuracies are close for all methods: the paper's claim is about the speed of optimisation, not about
# a better model. Where Adam pulled far ahead in the paper was logistic regression on sparse
# bag-of-words features (IMDB reviews), where rare words get rare gradients, and deep networks.
#
# ## 7. Why bias correction?
#
# Adam's averages start at `m₀ = v₀ = 0`. After `t` steps of a constant gradient `g`, the running mean
# is `m_t = (1 − β₁ᵗ) g`, not `g`: the missing part, `β₁ᵗ g`, is the weight still sitting on the zero
# it started from. Likewise `v_t = (1 − β₂ᵗ) g²`. Without correction the step is
#
# $$\frac{m_t}{\sqrt{v_t}} = \frac{1-\beta_1^t}{\sqrt{1-\beta_2^t}} \cdot \frac{g}{|g|}.$$
#
# With β₂ = 0.999, `v` has gathered only 1 % of its weight after 10 steps, and `√v` only 10 %. The
# factor `(1 − β₁ᵗ) / √(1 − β₂ᵗ)` is far above 1 for hundreds of steps: the uncorrected optimizer takes
# its largest steps exactly when it knows least. Dividing `m` by `1 − β₁ᵗ` and `v` by `1 − β₂ᵗ` makes
# the factor 1 at every step. (Without correction and without momentum, β₁ = 0, this is RMSProp started
# from zero, and the first step is `1 / √(1 − β₂)` = 31.6 times too large.)

# %%
t_axis = np.arange(1, 3001)
factor = {b2: (1 - 0.9 ** t_axis) / np.sqrt(1 - b2 ** t_axis) for b2 in (0.99, 0.999)}
f999 = factor[0.999]
print(f"β1 0.9, β2 0.999, no correction: step × {f999[0]:.2f} at t 1, × {f999.max():.2f} at its peak (t {t_axis[f999.argmax()]}), "
      f"× {f999[99]:.2f} at t 100, × {f999[999]:.2f} at t 1000")
print(f"β1 0, β2 0.999, no correction: first step × {1 / math.sqrt(1 - 0.999):.1f}")

# %% [markdown]
# Now on the logistic regression, with a constant learning rate (no decay, to isolate the effect) and the
# default betas. We train with and without correction at two learning rates, a small one (0.01) and a
# large one (`BC_LR`), and watch two things at every step: the typical step of a weight, as a multiple of
# `lr` (the median over the 640 weights), and the training loss.

# %%
BC_STEPS = 200 if not SMOKE else 20
BC_LRS = [0.01, BC_LR]
bc = {}
for corrected in (True, False):
    bc[corrected] = train_logreg(lambda ps, lr: Adam(ps, lr=lr, bias_correction=corrected), BC_LRS,
                                 n_steps=BC_STEPS, decay=False, every=1, watch_steps=True)
print(f"training loss at the start: {bc[True]['loss'][0, 0]:.3f}")
for corrected in (True, False):
    r = bc[corrected]
    print(f"{'with' if corrected else 'without':7s} correction: median step / lr over the first 20 steps "
          f"{r['rel_steps'][:20, 0].mean():.2f} (lr 0.01); highest loss after the start, lr {BC_LR:g}: "
          f"{r['loss'][1:, 1].max():.3f}; loss after {BC_STEPS} steps: "
          + ", ".join(f"{r['loss'][-1, j]:.3f} (lr {lr:g})" for j, lr in enumerate(BC_LRS)))

fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(12, 4.3))
steps_bc = np.arange(1, BC_STEPS + 1)
ax_s.plot(steps_bc, bc[True]["rel_steps"][:, 0], color=plot.COLORS[0], label="with correction (measured)")
ax_s.plot(steps_bc, bc[False]["rel_steps"][:, 0], color=plot.COLORS[3], label="without correction (measured)")
ax_s.plot(steps_bc, f999[:BC_STEPS], "k:", label="(1 − β1ᵗ)/√(1 − β2ᵗ), constant gradient")
ax_s.axhline(1.0, color="0.5", lw=1, ls="--")
ax_s.set(title="Adam's step size in the first steps (β1 0.9, β2 0.999, lr 0.01)", xlabel="step t",
         ylabel="median |weight change| / lr")
ax_s.legend(fontsize=9)
for j, (lr, ls) in enumerate(zip(BC_LRS, ["-", "--"])):
    ax_l.semilogy(bc[True]["steps"], bc[True]["loss"][:, j], ls, color=plot.COLORS[0], label=f"with correction, lr {lr:g}")
    ax_l.semilogy(bc[False]["steps"], bc[False]["loss"][:, j], ls, color=plot.COLORS[3], label=f"without, lr {lr:g}")
ax_l.set(title="Training loss, constant learning rate", xlabel="step", ylabel="training loss (log scale)")
ax_l.legend(fontsize=9)
fig.tight_layout()
plt.show()
record.metric("bc_peak_factor", float(f999.max()))

# %% [markdown]
# Without correction the first step is larger than `lr` by exactly the factor of the formula, and the
# next ones stay several times too large (printed above). After that the measured steps fall below the
# dotted line, which assumes a constant gradient: real gradients shrink as the loss falls and change
# direction from batch to batch, so `|m|` becomes smaller than `√v`. What the oversized early steps do
# depends on the learning rate:
#
# * At the small learning rate they look like a free speed-up: the oversized steps are still small.
# * At the large learning rate they throw the weights far out: the loss climbs far higher than the
#   corrected run's ever does, and after 200 steps the uncorrected run is still behind.
#
# In other words, without correction the effective learning rate in the first few hundred steps is
# several times the one you chose, and you do not control by how much: it depends on β₁ and β₂. The
# paper's section 6.4 found the same on a VAE: with β₂ close to 1 and no correction, training was
# unstable in the first epochs. Bias correction makes `lr` mean the same thing from the first step on.
# (Warm-up, which starts with a small learning rate and raises it, later became standard for
# transformers; RAdam, in "Going further", explains it through the same early-step problem.)
#
# ## 8. When Adam fails: Reddi et al.'s counterexample
#
# Adam's convergence proof (the paper's section 4) assumed that the quantity `√v_t / α_t` never
# decreases from one step to the next, that is, that step sizes only shrink. With SGD and AdaGrad that
# holds. With Adam's *moving* average it does not: when the gradients get smaller, `v` forgets the big
# ones and the step size grows back. Reddi, Kale and Kumar turned that into a counterexample. It is an
# online problem on the interval `x ∈ [−1, 1]`: at step `t` the loss is
#
# $$f_t(x) = \begin{cases} C\,x & \text{if } t \bmod 3 = 1 \\ -x & \text{otherwise} \end{cases}
#   \qquad (C > 2).$$
#
# Over every three steps the gradients sum to `C − 2 > 0`, so the best fixed point is `x = −1`. But the
# informative gradient `C` comes once in three steps; the misleading `−1` comes twice. With β₁ = 0 and
# β₂ = 1/(1 + C²), their choice, Adam divides the big gradient by roughly C and the small ones by
# roughly 1: it takes about as large a step toward +1 as toward −1, and twice as many of them. It ends at
# `x = +1`, the *worst* point. AMSGrad keeps the maximum of `v`, so the small gradients keep small steps.
#
# We use their betas, a step size `α / √t` as in the convergence analyses (α = 0.5 here), C = `REDDI_C`,
# and `x` clipped back into [−1, 1] after every step. Our Adam keeps its bias correction (theirs has none; with β₂ = 0.1 it fades out
# within a few steps). The paper's proof starts at `x = 1`; we start in the middle, at `x = 0`, so we can
# watch which way each method goes. We also run both methods with the default betas (0.9, 0.999).

# %%
def online_run(opt_class, betas, n_steps, C, period=3, small=-1.0, alpha=0.5, x0=0.0):
    """Reddi et al.'s online problem: the gradient is C when t mod period is 1, else `small`; x stays in [-1, 1].

    `betas` is a list of (β1, β2) pairs, one run each, batched. Returns x after every step, (n_steps + 1, runs)."""
    x = torch.full((len(betas),), x0, dtype=torch.float64, requires_grad=True)
    b1, b2 = (torch.tensor([b[i] for b in betas], dtype=torch.float64) for i in (0, 1))
    opt = opt_class([x], lr=alpha, betas=(b1, b2))
    xs = torch.empty(n_steps + 1, len(betas), dtype=torch.float64)
    xs[0] = x.detach()
    for t in range(1, n_steps + 1):
        x.grad = torch.full_like(x, C if t % period == 1 else small)  # f_t is linear: its gradient is known
        opt.lr = alpha / math.sqrt(t)
        opt.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)  # projection back onto the feasible set
        xs[t] = x.detach()
    return xs.numpy()


def average_regret(xs, C, period=3, small=-1.0):
    """(1/T) Σ_t [f_t(x_t) − f_t(−1)] for each run, where x_t is the point played at step t (before its update)."""
    t = np.arange(1, len(xs))
    g = np.where(t % period == 1, C, small)
    return np.mean(g[:, None] * (xs[:-1] + 1.0), axis=0)


N_REDDI = REDDI_STEPS if not SMOKE else 60
reddi_betas = [(0.0, 1.0 / (1.0 + REDDI_C ** 2)), (0.9, 0.999)]
t0 = time.perf_counter()
reddi = {"Adam": online_run(Adam, reddi_betas, N_REDDI, REDDI_C), "AMSGrad": online_run(AMSGrad, reddi_betas, N_REDDI, REDDI_C)}
print(f"({time.perf_counter() - t0:.1f} s)")
for name, xs in reddi.items():
    regret = average_regret(xs, REDDI_C)
    for j, (b1, b2) in enumerate(reddi_betas):
        print(f"{name:8s} β1 {b1:g}, β2 {b2:.3g}: x after {N_REDDI} steps {xs[-1, j]:+.3f}, "
              f"average regret {regret[j]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
t_reddi = np.arange(N_REDDI + 1)
for name, color in [("Adam", plot.COLORS[3]), ("AMSGrad", plot.COLORS[0])]:
    for j, ((b1, b2), ls) in enumerate(zip(reddi_betas, ["-", ":"])):
        ax.plot(t_reddi, reddi[name][:, j], ls, color=color, lw=1.5 if j == 0 else 2.2,
                marker=None if j == 0 else ("o" if name == "Adam" else "x"), markevery=0.1, ms=6,
                label=f"{name}, β1 {b1:g}, β2 {b2:.3g}" + (" (theirs)" if j == 0 else " (defaults)"))
ax.axhline(-1, color="k", lw=0.8)
ax.set_xscale("symlog", linthresh=10)
ax.set(title=f"Reddi et al.'s counterexample (C {REDDI_C:g}): the best point is x = −1",
       xlabel="step t (linear up to 10, then log scale)", ylabel="x_t", ylim=(-1.08, 1.08), xlim=(0, N_REDDI))
ax.legend(loc="center right", fontsize=9)
plt.show()
checks.milestone("adam_counterexample_x", reddi["Adam"][-1, 0], 0.9, ">=",
                 note=f"Adam, β1 0, β2 1/(1+C²), C {REDDI_C:g}: x after {N_REDDI} steps (the worst point is +1)")
checks.milestone("amsgrad_counterexample_x", reddi["AMSGrad"][-1, 0], -0.9, "<=",
                 note=f"AMSGrad, same problem and betas: x after {N_REDDI} steps (the best point is −1)")
record.metric("adam_default_betas_counterexample_x", float(reddi["Adam"][-1, 1]))

# %% [markdown]
# With Reddi et al.'s betas, Adam walks to `x = +1` and stays there, and its average regret does not
# shrink toward zero; AMSGrad goes to −1 (all printed above). With the default betas both methods find
# −1 (their two dotted lines lie almost on top of each other). That is the caveat: with β₂ = 0.999, `v` remembers about a thousand steps, far more than the
# three-step cycle, so Adam does fine on *this* problem.
#
# But the lesson is not "use the defaults and you are safe". The paper's theorem 3 shows that for any β₁,
# β₂ with β₁ < √β₂ there is a (stochastic) convex problem on which Adam fails; the rarer the large
# gradient, the longer a memory `v` needs. The paper's own experiment (section 5) uses a rarer version:
# `f_t = 1010 x` once every 101 steps and `−10 x` otherwise. Below we run it with β₁ = 0.9 and two values
# of β₂ (skipped when `RARE_STEPS` is 0).

# %%
if RARE_STEPS > 0:
    N_RARE = RARE_STEPS if not SMOKE else 300
    rare_betas = [(0.9, 0.99), (0.9, 0.999)]
    t0 = time.perf_counter()
    rare = {name: online_run(cls, rare_betas, N_RARE, C=1010.0, period=101, small=-10.0)
            for name, cls in [("Adam", Adam), ("AMSGrad", AMSGrad)]}
    print(f"({time.perf_counter() - t0:.1f} s)")
    for name, xs in rare.items():
        print(f"{name:8s} " + ", ".join(f"β2 {b2:g}: x after {N_RARE} steps {xs[-1, j]:+.3f}"
                                        for j, (_, b2) in enumerate(rare_betas)))
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, color in [("Adam", plot.COLORS[3]), ("AMSGrad", plot.COLORS[0])]:
        for j, ((b1, b2), ls) in enumerate(zip(rare_betas, ["-", ":"])):
            ax.plot(np.arange(N_RARE + 1), rare[name][:, j], ls, color=color, lw=1.5 if j == 0 else 2.2,
                    label=f"{name}, β1 {b1:g}, β2 {b2:g}")
    ax.axhline(-1, color="k", lw=0.8)
    ax.set(title="A rarer large gradient: 1010x once every 101 steps, −10x otherwise", xlabel="step t",
           ylabel="x_t", ylim=(-1.08, 1.08))
    ax.legend(loc="center right", fontsize=9)
    plt.show()
    record.metric("adam_rare_b2_0.99_x", float(rare["Adam"][-1, 0]))
else:
    print("RARE_STEPS is 0: the rarer-gradient variant is skipped.")

# %% [markdown]
# With a gradient that comes once every 101 steps, β₂ = 0.99 (a memory of about 100 steps) is no longer
# enough: Adam drifts toward +1 again, while AMSGrad heads to −1. With β₂ = 0.999 Adam does not drift
# to +1 in this many steps, but it stays far from −1, and so does AMSGrad, which moves towards −1 only
# very slowly (values printed above; raise `RARE_STEPS` to watch longer). In everyday training the failure is rare, and AMSGrad
# seldom trains networks better than Adam. But the counterexample is the clearest picture of what
# Adam's moving average forgets.
#
# ## 9. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy)
# and a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: Nesterov momentum
#
# Sutskever et al. (2013) wrote Nesterov's accelerated gradient as a form of momentum and found that
# it often trains deep networks better than classical momentum. The idea is to look ahead: apply the gradient
# where the momentum is about to carry you. PyTorch's version (`torch.optim.SGD(..., nesterov=True)`)
# keeps the same velocity `v ← μ v + g` but steps by `lr · (g + μ v)`. Write `update`; the check
# compares your class with PyTorch's on the small network of section 3.

# %% tags=["exercise"]
class NesterovMomentum(Optimizer):
    """Nesterov momentum, PyTorch's form: v <- mu·v + g, then step lr·(g + mu·v)."""

    def __init__(self, params, lr, momentum=0.9):
        super().__init__(params, lr)
        self.momentum = momentum

    def update(self, p, g, s):
        # TODO: update the velocity s["v"] (it starts at 0, as in Momentum), then return lr * (g + mu * v)
        return None

# %% tags=["solution"]
class NesterovMomentum(Optimizer):
    """Nesterov momentum, PyTorch's form: v <- mu·v + g, then step lr·(g + mu·v)."""

    def __init__(self, params, lr, momentum=0.9):
        super().__init__(params, lr)
        self.momentum = momentum

    def update(self, p, g, s):
        s["v"] = self.momentum * s.get("v", 0.0) + g
        return self.lr * (g + self.momentum * s["v"])

# %% tags=["check"]
_probe = NesterovMomentum([torch.zeros(2)], lr=0.1).update(torch.zeros(2), torch.ones(2), {})
checks.check(_probe is not None, "NesterovMomentum.update returned None: the TODO is not done yet.",
             ok_message="update returns a change.", hint="Return lr * (g + mu * v) after updating s['v'].")
_diff = max_diff_vs_torch(lambda ps: NesterovMomentum(ps, lr=0.05, momentum=0.9),
                          lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True), steps=50)
_classic = max_diff_vs_torch(lambda ps: NesterovMomentum(ps, lr=0.05, momentum=0.9),
                             lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), steps=50)
checks.check(_diff <= 1e-6,
             f"Your Nesterov momentum differs from torch.optim.SGD(nesterov=True) by up to {_diff:.2g}"
             + (" (it matches classical momentum instead: you return lr·v)." if _classic <= 1e-6 else "."),
             ok_message=f"NesterovMomentum matches torch.optim.SGD(nesterov=True): max difference {_diff:.1e} over 50 steps.",
             hint="First s['v'] = mu * s.get('v', 0.0) + g, then return self.lr * (g + self.momentum * s['v']).")

# %% [markdown]
# ### Exercise 2: AdamW, decoupled weight decay
#
# L2 regularisation adds `λ θ` to the gradient. For SGD that is the same as shrinking the weights by a
# factor `1 − lr·λ` at every step ("weight decay"). For Adam it is not: the added `λ θ` gets divided by
# `√v̂` like the rest of the gradient, so weights with large gradients are barely decayed. Loshchilov &
# Hutter's **AdamW** decouples the two: it shrinks every weight by `lr · λ · θ` directly and takes the
# plain Adam step on the gradient alone. Write `update` as Adam's change plus the decay term (the
# `p` argument is there for this). The check compares with `torch.optim.AdamW`.

# %% tags=["exercise"]
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): shrink θ by lr·λ·θ, then take the Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps)
        self.weight_decay = weight_decay

    def update(self, p, g, s):
        # TODO: return Adam's change (super().update(p, g, s)) plus lr * weight_decay * p
        return None

# %% tags=["solution"]
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): shrink θ by lr·λ·θ, then take the Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps)
        self.weight_decay = weight_decay

    def update(self, p, g, s):
        return super().update(p, g, s) + self.lr * self.weight_decay * p

# %% tags=["check"]
_opt = AdamW([torch.zeros(2)], lr=0.1)
_opt.t = 1
_probe = _opt.update(torch.ones(2), torch.ones(2), {})
checks.check(_probe is not None, "AdamW.update returned None: the TODO is not done yet.",
             ok_message="update returns a change.", hint="Return super().update(p, g, s) + self.lr * self.weight_decay * p.")
_diff = max_diff_vs_torch(lambda ps: AdamW(ps, lr=0.01, weight_decay=0.5),
                          lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.5), steps=50)
_l2 = max_diff_vs_torch(lambda ps: AdamW(ps, lr=0.01, weight_decay=0.5),
                        lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.5), steps=50)
checks.check(_diff <= 1e-6,
             f"Your AdamW differs from torch.optim.AdamW by up to {_diff:.2g}"
             + (" (it matches Adam with L2, torch.optim.Adam(weight_decay): the decay went into the gradient)."
                if _l2 <= 1e-6 else "."),
             ok_message=f"AdamW matches torch.optim.AdamW: max difference {_diff:.1e} over 50 steps "
                        f"(Adam with L2 would differ by {_l2:.2g}).",
             hint="Do not add λ·p to g. Add self.lr * self.weight_decay * p to the change that Adam returns.")

# %% [markdown]
# ### Exercise 3: how long does the bias last?
#
# Without correction, a running average with decay β has gathered only a fraction `1 − βᵗ` of its weight
# after `t` steps. Write `steps_until_unbiased(beta, tol)`: the smallest `t` for which the missing part
# `βᵗ` is at most `tol`. (Hint: `t ≥ log(tol) / log(beta)`; watch the rounding.) The check then tells you
# how long the first and the second moment stay biased by more than 1 % with the default betas.

# %% tags=["exercise"]
def steps_until_unbiased(beta, tol=0.01):
    """The smallest whole number of steps t with beta**t <= tol."""
    # TODO: return the smallest int t such that beta ** t <= tol
    return None

# %% tags=["solution"]
def steps_until_unbiased(beta, tol=0.01):
    """The smallest whole number of steps t with beta**t <= tol."""
    t = math.ceil(math.log(tol) / math.log(beta))
    while beta ** t > tol:  # guard against rounding in the logarithms
        t += 1
    while t > 1 and beta ** (t - 1) <= tol:
        t -= 1
    return t

# %% tags=["check"]
def _brute_force(beta, tol):
    t, w = 1, beta
    while w > tol:
        t, w = t + 1, w * beta
    return t


_cases = [(0.9, 0.01), (0.999, 0.01), (0.99, 0.05), (0.5, 0.25), (0.9999, 0.1)]
_yours = [steps_until_unbiased(b, tol) for b, tol in _cases]
checks.check(all(isinstance(v, int) and not isinstance(v, bool) for v in _yours),
             f"steps_until_unbiased should return whole numbers (int); it returned {_yours}"
             + (" (None: the TODO is not done yet)." if None in _yours else "."),
             ok_message="steps_until_unbiased returns ints.",
             hint="math.ceil(math.log(tol) / math.log(beta)) is an int.")
checks.check_close(_yours, [_brute_force(b, tol) for b, tol in _cases], "steps_until_unbiased on 5 cases",
                   hint="The smallest t with beta**t <= tol. The cases (beta, tol) are " + ", ".join(map(str, _cases)))
print(f"default betas: the first moment is more than 1 % short for {steps_until_unbiased(0.9) - 1} steps, "
      f"the second for {steps_until_unbiased(0.999) - 1} steps")

# %% [markdown]
# So with β₂ = 0.999 the uncorrected second moment stays more than 1 % too small for thousands of
# steps, a long time in a run of a few epochs. That is why the correction matters most for β₂ close to 1.
#
# ## Going further
#
# * **The paper's algorithm and the library code.** Algorithm 1 of Kingma & Ba
#   ([arXiv:1412.6980](https://arxiv.org/abs/1412.6980)), then PyTorch's implementation,
#   [`torch/optim/adam.py`](https://github.com/pytorch/pytorch/blob/main/torch/optim/adam.py): the
#   `_single_tensor_adam` function is our `Adam.update` plus options (weight decay, `maximize`,
#   complex numbers, AMSGrad), and `_multi_tensor_adam` does the same for all tensors at once, faster.
#   The paper's section 7 also has **AdaMax**, Adam with an infinity norm (`torch.optim.Adamax`).
# * **AdamW.** Loshchilov & Hutter, *Decoupled Weight Decay Regularization* (2017,
#   [arXiv:1711.05101](https://arxiv.org/abs/1711.05101)): exercise 2, and why it matters for
#   generalisation. It became the default optimizer for transformers.
# * **RAdam.** Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond* (2019,
#   [arXiv:1908.03265](https://arxiv.org/abs/1908.03265)): in the first steps `v` rests on very few
#   gradients, so the adaptive step size has a large variance; warm-up, or RAdam's correction, tames it.
# * **Adafactor.** Shazeer & Stern (2018, [arXiv:1804.04235](https://arxiv.org/abs/1804.04235)): keeps
#   only row and column averages of `v` for a weight matrix, to save memory on very large models.
# * **Adaptive methods and generalisation.** Wilson et al., *The Marginal Value of Adaptive Gradient
#   Methods in Machine Learning* (2017, [arXiv:1705.08292](https://arxiv.org/abs/1705.08292)).
# * **Try it.** Run `papermill` with `-p REDDI_C 10` to make the rare gradient larger, or with
#   `-p RARE_STEPS 50000` to watch the rarer variant further. Next lesson: **03, ResNet & BatchNorm
#   (2015)**, which changed the loss surface itself so that very deep networks train.
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["adam_matches_torch", "amsgrad_matches_torch", "sgd_over_adam_loss",
                                                "adam_counterexample_x", "amsgrad_counterexample_x"])
