# ---
# jupyter:
#   course:
#     idea: BatchNorm and the residual block written out and checked against nn.BatchNorm2d;
#       plain vs residual nets of 4 to 32 layers on digits; the degradation problem;
#       gradient norm per layer
#     number: '03'
#     papers:
#     - arxiv: '1512.03385'
#       authors: Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun
#       title: Deep Residual Learning for Image Recognition
#       year: 2015
#     - arxiv: '1502.03167'
#       authors: Sergey Ioffe, Christian Szegedy
#       title: 'Batch Normalization: Accelerating Deep Network Training by Reducing
#         Internal Covariate Shift'
#       year: 2015
#     title: ResNet & BatchNorm
#     track: vision
#     year: '2015'
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
# # 03 · 2015 · ResNet & BatchNorm
#
# **Papers**
#
# * Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun (2015). *Deep Residual Learning for Image
#   Recognition.* CVPR 2016. [arXiv:1512.03385](https://arxiv.org/abs/1512.03385)
# * Sergey Ioffe, Christian Szegedy (2015). *Batch Normalization: Accelerating Deep Network Training by
#   Reducing Internal Covariate Shift.* ICML 2015. [arXiv:1502.03167](https://arxiv.org/abs/1502.03167)
#
# ## The problem before this paper
#
# After AlexNet (lesson 01, 8 layers) the best ImageNet networks got deeper every year: VGG had 16 to
# 19 layers, GoogLeNet 22 (both 2014). Depth paid off, but deep networks were hard to train, for two
# reasons.
#
# **The scale of the signal.** Every layer multiplies its input by a weight matrix. If those weights
# are a little too small, the activations shrink from layer to layer; a little too large, and they blow
# up. Careful initialisation (Glorot & Bengio, 2010; He et al., 2015 for ReLU networks) gets the scale
# right at the start. But training changes the weights, and with them the distribution of every layer's
# input. Ioffe and Szegedy called this **internal covariate shift**: each layer has to keep adapting to
# a moving input, so training needs small learning rates and patience.
#
# **The degradation problem.** Once normalisation fixed the scale, He et al. found a second, stranger
# obstacle. Add layers to a plain stack of convolutions, and beyond about 20 layers the **training**
# error goes *up*. That is not overfitting: overfitting lowers the training error. And it is odd, because a
# deeper network can always do what a shallower one does: copy the shallow network's layers and make
# the extra layers compute the identity. A solution at least as good exists; SGD does not find it. The
# paper showed this on CIFAR-10 with plain nets of 20, 32, 44 and 56 layers (its figures 1 and 6: the
# deeper the plain net, the higher its training error), and on ImageNet, where the 34-layer plain net
# ended with a higher validation error than the 18-layer one (28.54 % vs 27.94 % top-1, its table 2).
#
# ## The key idea
#
# **Batch normalisation** (BatchNorm, BN) normalises each channel inside the network, on every
# minibatch: subtract the minibatch mean, divide by the minibatch standard deviation, then apply a
# learned scale γ and shift β, so the layer can still represent any mean and spread it needs. Every
# layer then sees inputs of a fixed scale, whatever the layers before it do, and much larger learning
# rates become safe. At test time there may be
# no batch, so BN uses population statistics collected during training instead. With BN, an Inception
# network reached the accuracy of the original in 14 times fewer training steps, and an ensemble
# reached 4.9 % top-5 error on the ImageNet validation set.
#
# **Residual learning.** Instead of asking a few layers to compute a mapping `H(x)`, let them compute
# the *residual* `F(x) = H(x) − x` and add the input back through a **shortcut**:
#
# $$y = \mathrm{ReLU}\big(F(x) + x\big), \qquad F(x) = \mathrm{BN}(W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * x)))$$
#
# If the identity is the best thing a block can do, its weights only have to go to zero, which is
# easy; a plain stack of nonlinear layers has to learn the identity, which is hard. The identity
# shortcut has no parameters, so a residual network has exactly as many weights as the plain network
# it is built from. With it, depth helped again: on ImageNet the 34-layer ResNet beat the 18-layer one
# (25.03 % vs 27.88 % top-1 error, table 2), and on CIFAR-10 the ResNets kept improving up to 110
# layers (6.43 % test error, table 6). An ensemble of ResNets (up to 152 layers) won ILSVRC 2015 with
# 3.57 % top-5 error.
#
# ## What changed after
#
# Residual connections and normalisation layers are now in almost every deep network. ResNets became the
# standard backbone of image models (the detectors and segmenters of lessons 05 and 06 use them), and the
# Transformer (2017) wraps every sub-layer in a residual connection followed by a normalisation layer. He
# et al. (2016) moved BN and ReLU *before* the convolutions ("pre-activation"), so the shortcut path is a
# pure identity from input to output, and trained a 1001-layer ResNet on CIFAR-10. BatchNorm's dependence
# on the batch led to Layer Normalization (2016) and Group Normalization (2018). Why BN helps is still
# argued about: Santurkar et al. (2018) argued, with experiments, that its benefit has little to do with
# internal covariate shift, and that BN makes the loss surface smoother.
#
# ## What we do here, and what scale changes
#
# We write BatchNorm out, training mode and evaluation mode, and check it against `nn.BatchNorm2d`. We
# write the residual block out. Then we build plain and residual networks of 4, 10, 20 and 32 weighted
# layers from the same parts, with the same weights at the start and the same minibatches, and train
# all eight on scikit-learn's 8×8 handwritten digits. We watch the training loss, and the gradient
# that reaches each layer.
#
# The paper's CIFAR-10 networks of 20 to 110 layers had 0.27 to 1.7 million parameters (its table 6) and
# trained for 64,000 steps on 50,000 images, with a learning-rate schedule, weight decay and data
# augmentation. Ours have at most about 70 thousand parameters, keep a 16-channel, 8×8 feature map
# throughout, and train for 300 steps at one learning rate, about 15 passes over 1,297 digits. So our
# degradation is measured at a fixed, short budget: the deep plain net is slower to train, and we compare
# where each net stands after the same number of steps. What stays the same is the shape of the result:
# the deep plain net ends with a higher *training* loss than the shallow one, and the residual net of the
# same depth does not.

# %% [markdown]
# ## 中文导读
#
# 2015 年有两篇论文让很深的网络变得可以训练。
#
# **批归一化**（Batch Normalization，BN；Ioffe 和 Szegedy）：在网络内部对每个通道，用当前小批量的均值和方差做归一化，
# 再乘以可学习的缩放 γ、加上平移 β。这样每一层的输入尺度都固定下来，可以用更大的学习率。训练时用小批量统计量，
# 推理（评估）时用训练中累积的滑动平均统计量（running statistics）。
#
# **残差网络**（ResNet；何恺明、张祥雨、任少卿、孙剑）：他们发现，在有 BN 的普通网络（plain network）里继续加层，
# 超过大约 20 层后，**训练**误差反而上升。这不是过拟合，也不是梯度消失，他们称之为**退化问题**（degradation problem）。
# 解决办法是让几层网络学习残差 `F(x) = H(x) − x`，再通过恒等捷径连接（shortcut）把输入加回去：`y = ReLU(F(x) + x)`。
# 捷径连接没有参数；如果恒等映射就是最优的，只要把权重推向 0 即可。ResNet 赢得了 ILSVRC 2015，
# 残差连接和归一化层此后几乎出现在所有深度网络中（包括 Transformer）。
#
# 本课从零写出 BN（训练模式、评估模式、滑动平均的更新，方差用无偏估计，与 PyTorch 一致），并与 `nn.BatchNorm2d`
# 做数值对比；写出残差块；在 8×8 手写数字上，用相同的初始权重和相同的小批量，训练 4、10、20、32 层的普通网络和残差网络，
# 比较固定步数后的训练损失，并画出每一层的梯度范数。在这个小规模上，32 层普通网络的训练损失远高于 4 层普通网络，
# 而 32 层残差网络远低于 32 层普通网络。初始化时普通网络的梯度越靠近输入越**大**，而不是消失。所有数字都来自本课的运行结果。
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
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): data split, initial weights and minibatch order
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: depths 4 and 10, a few steps, every code path in seconds; milestones reported, not asserted
STEPS = 300  # SGD steps for every network (20 .. 5000)
DEPTHS = "4, 10, 20, 32"  # weighted layers of the nets compared: even numbers from 4 to 56, increasing, at least two
WIDTH = 16  # channels of every convolution (4 .. 64)
LR = 0.05  # SGD learning rate (momentum 0.9), in (0, 1]
BATCH_SIZE = 64  # minibatch size (8 .. 512)
LOSS_WINDOW = 50  # the final training loss is the mean of the last LOSS_WINDOW minibatch losses (1 .. 500, at most STEPS)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=20, max=5000),
    DEPTHS=params.Str(),
    WIDTH=params.Int(min=4, max=64),
    LR=params.Float(min=0.0, max=1.0, min_inclusive=False),
    BATCH_SIZE=params.Int(min=8, max=512),
    LOSS_WINDOW=params.Int(min=1, max=500),
)
LR = P["LR"]  # an int becomes a float
try:
    DEPTH_LIST = [int(d) for d in DEPTHS.replace(",", " ").split()]
except ValueError:
    DEPTH_LIST = []
if (len(DEPTH_LIST) < 2 or any(d % 2 or not 4 <= d <= 56 for d in DEPTH_LIST)
        or DEPTH_LIST != sorted(set(DEPTH_LIST))):
    raise params.ParameterError(f"Parameter DEPTHS = {DEPTHS!r} is not allowed: expected at least two even numbers "
                                "from 4 to 56 in increasing order, separated by commas, e.g. '4, 10, 20, 32'.")
if LOSS_WINDOW > STEPS:
    raise params.ParameterError(f"Parameter LOSS_WINDOW = {LOSS_WINDOW} is not allowed: expected at most STEPS ({STEPS}).")
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()

# %%
# Where this lesson sits on the 2012–2020 timeline, and its run time as `make bench` measured it.
lessons.show_card("03")
plt.show()

# %% [markdown]
# ## 1. The data
#
# scikit-learn's 1,797 handwritten digits, 8×8 pixels, the data of lesson 02. We hold out 500 of them
# (chosen by `SEED`) to check that the trained networks also classify digits they never saw, and
# standardise the pixels with the training set's mean and spread. In SMOKE mode we keep 256 training
# digits and only depths 4 and 10.

# %%
x_all, y_all = data.load_digits()  # (1797, 1, 8, 8) in [0, 1], labels (1797,)
perm = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(SEED))
N_TEST = 500
x_test, y_test = x_all[perm[:N_TEST]], y_all[perm[:N_TEST]]
x_train, y_train = x_all[perm[N_TEST:]], y_all[perm[N_TEST:]]
if SMOKE:
    x_train, y_train = x_train[:256], y_train[:256]
    DEPTH_LIST = DEPTH_LIST[:2]
PIXEL_MEAN, PIXEL_STD = x_train.mean().item(), x_train.std().item()
x_train, x_test = ((x - PIXEL_MEAN) / PIXEL_STD for x in (x_train, x_test))
x_train, y_train, x_test, y_test = (t.to(device) for t in (x_train, y_train, x_test, y_test))
N_STEPS = STEPS if not SMOKE else 10
WINDOW = min(LOSS_WINDOW, N_STEPS // 2) if SMOKE else LOSS_WINDOW
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}; depths {DEPTH_LIST}, {N_STEPS} steps of "
      f"{BATCH_SIZE} digits (about {N_STEPS * BATCH_SIZE / len(y_train):.1f} passes over the training set)")

# %% [markdown]
# ## 2. BatchNorm, written out
#
# A convolution layer's output has shape `(N, C, H, W)`: `N` images, `C` channels, `H × W` positions.
# BatchNorm treats each channel `c` separately. In **training mode** it takes the mean and the variance
# of that channel over the whole minibatch, all `m = N·H·W` values (the paper's section 3.2 normalises
# a convolutional feature map over the batch *and* all positions, so that every position is treated
# alike):
#
# $$\mu_c = \frac1m \sum x, \qquad \sigma_c^2 = \frac1m \sum (x - \mu_c)^2, \qquad
#   y = \gamma_c \, \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c$$
#
# The learned `γ` and `β` start at 1 and 0. Because the output no longer depends on the mean of `x`,
# the convolution before a BN layer needs no bias: `β` takes its role.
#
# An image's output now depends on the other images of its batch. That is fine while training, but a
# trained network should give one answer per image. So in **evaluation mode** BN uses fixed statistics
# of the whole training set instead. The paper's Algorithm 2 computes them after training, averaged over
# many batches (with the unbiased variance, `m/(m−1)` times the average batch variance), and notes that
# moving averages work too. PyTorch keeps such **running averages** during training, updated at every
# training-mode step with a `momentum` (0.1 by default; it weights the *new* value, unlike an
# optimizer's momentum):
#
# $$\hat\mu_c \leftarrow (1 - 0.1)\,\hat\mu_c + 0.1\,\mu_c, \qquad
#   \hat\sigma_c^2 \leftarrow (1 - 0.1)\,\hat\sigma_c^2 + 0.1\,\frac{m}{m-1}\,\sigma_c^2$$
#
# The running mean starts at 0 and the running variance at 1. Normalising uses the *biased* variance
# `σ²`; the running average stores the *unbiased* one. Here it is as one function.

# %%
def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """BatchNorm over the channels of x (N, C, H, W), as nn.BatchNorm2d computes it.

    training: normalise with this batch's statistics and update running_mean/running_var in place.
    Otherwise: normalise with running_mean and running_var."""
    if training:
        m = x.numel() // x.shape[1]  # values per channel: N·H·W
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)  # the biased variance normalises the batch
        with torch.no_grad():  # the running averages are bookkeeping, not part of the gradient
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * m / (m - 1))  # the unbiased variance is stored
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + eps)
    return gamma.view(1, -1, 1, 1) * x_hat + beta.view(1, -1, 1, 1)


class BatchNorm2d(nn.Module):
    """Our BatchNorm layer: γ and β are learned, the running statistics are buffers (saved, not trained)."""

    def __init__(self, channels, momentum=0.1, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))  # γ
        self.bias = nn.Parameter(torch.zeros(channels))  # β
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.momentum, self.eps = momentum, eps

    def forward(self, x):
        return batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                          self.training, self.momentum, self.eps)


# A first check: a batch with channel means far from 0 and spreads far from 1 comes out standardised.
gen = torch.Generator().manual_seed(SEED)
x_bn = 2.0 + 3.0 * torch.randn(8, 4, 5, 5, generator=gen)  # (N, C, H, W)
y_bn = BatchNorm2d(4)(x_bn)  # a new module is in training mode
checks.check_shape(y_bn, (8, 4, 5, 5), "BatchNorm output")
print(f"input: channel means {x_bn.mean(dim=(0, 2, 3)).numpy().round(2)}, stds {x_bn.std(dim=(0, 2, 3)).numpy().round(2)}")
print(f"output: channel means {y_bn.mean(dim=(0, 2, 3)).detach().numpy().round(6) + 0.0}, "
      f"stds {y_bn.std(dim=(0, 2, 3), unbiased=False).detach().numpy().round(4)}")

# %% [markdown]
# ### Checked against `nn.BatchNorm2d`
#
# We give our layer and PyTorch's the same random `γ` and `β`, then run both in training mode on five
# batches, each with different channel means and spreads. After each step we compare the outputs, the
# gradients that flow back to the input (through the batch mean and variance, which depend on every
# input), and the running statistics. Then we switch both to evaluation mode and compare their outputs
# on a new batch. Float32 rounding allows differences of about 10⁻⁶.

# %%
ours, theirs = BatchNorm2d(6), nn.BatchNorm2d(6)
with torch.no_grad():
    for layer in (ours, theirs):
        layer.weight.copy_(1.0 + 0.5 * torch.randn(6, generator=torch.Generator().manual_seed(SEED)))
        layer.bias.copy_(torch.randn(6, generator=torch.Generator().manual_seed(SEED + 1)))
bn_diff = {"training-mode outputs": 0.0, "input gradients": 0.0, "running mean": 0.0, "running variance": 0.0}
for _ in range(5):
    shift = 4.0 * torch.randn(1, 6, 1, 1, generator=gen)  # each batch has its own channel means and spreads
    scale = torch.rand(1, 6, 1, 1, generator=gen) * 3 + 0.5
    xb = shift + scale * torch.randn(16, 6, 7, 7, generator=gen)
    probe = torch.randn(16, 6, 7, 7, generator=gen)  # a random weighting of the outputs, to backpropagate
    outs, grads = [], []
    for layer in (ours, theirs):
        xi = xb.clone().requires_grad_(True)
        out = layer(xi)
        (out * probe).sum().backward()
        outs.append(out.detach())
        grads.append(xi.grad)
    bn_diff["training-mode outputs"] = max(bn_diff["training-mode outputs"], (outs[0] - outs[1]).abs().max().item())
    bn_diff["input gradients"] = max(bn_diff["input gradients"], (grads[0] - grads[1]).abs().max().item())
    bn_diff["running mean"] = max(bn_diff["running mean"], (ours.running_mean - theirs.running_mean).abs().max().item())
    bn_diff["running variance"] = max(bn_diff["running variance"], (ours.running_var - theirs.running_var).abs().max().item())
ours.eval()
theirs.eval()
x_new = 1.0 + 2.0 * torch.randn(16, 6, 7, 7, generator=gen)
with torch.no_grad():
    y_eval = ours(x_new)
    bn_diff["evaluation-mode outputs"] = (y_eval - theirs(x_new)).abs().max().item()
    y_train_mode = batch_norm(x_new, ours.weight, ours.bias, ours.running_mean.clone(), ours.running_var.clone(),
                              training=True)  # the same batch normalised with its own statistics (copies: no update)
mode_gap = (y_train_mode - y_eval).abs().max().item()
for name, d in bn_diff.items():
    print(f"max |ours − nn.BatchNorm2d|, {name:22s} {d:.1e}")
print(f"running mean after 5 steps: {ours.running_mean.numpy().round(3)} (ours), "
      f"{theirs.running_mean.numpy().round(3)} (nn.BatchNorm2d)")
print(f"the same batch in training mode vs evaluation mode differs by up to {mode_gap:.2f}")
checks.check_close(ours.running_var, theirs.running_var, "running variance vs nn.BatchNorm2d", atol=1e-5)
checks.milestone("batchnorm_matches_torch", max(bn_diff.values()), 1e-5, "<=",
                 note="max |our BatchNorm − nn.BatchNorm2d|: outputs and input gradients over 5 training steps, "
                      "running mean and variance, then outputs in evaluation mode")

# %% [markdown]
# Every difference is at the level of float32 rounding (printed above): our function computes what
# `nn.BatchNorm2d` computes, in both modes, including the unbiased running variance. The last line
# shows why the two modes must not be confused: after only five steps, the running averages are still
# far from the statistics of any one batch, and the same input gives different outputs. We will meet
# this again when we evaluate trained networks. From here on the networks use `nn.BatchNorm2d`: it is
# our function in fast native code.
#
# ### What BatchNorm fixes: the scale of the signal
#
# Stack 31 convolutions with ReLUs and feed in a batch of digits. With PyTorch's default initialisation
# (weights uniform in ±1/√fan_in, smaller than a ReLU network needs) each layer shrinks the spread of
# the signal by the same factor. He et al.'s initialisation (2015) is designed to keep the spread
# constant on average; in one random network of 16 channels on small 8×8 maps (zero padding feeds in
# zeros at the borders) it still drifts, by a few times up to about a hundred times over 31 layers
# depending on the seed (printed below), but nothing like the default initialisation's collapse. And
# nothing keeps it there once training moves the weights. BatchNorm resets every channel to mean `β`
# and spread `γ` at every layer and every step, whatever the weights are.

# %%
def signal_spread(depth, use_bn, he_init, x):
    """The standard deviation of the activations after each of `depth` conv(-BN)-ReLU layers, at initialisation."""
    torch.manual_seed(SEED)
    spreads, h, c_in = [], x, x.shape[1]
    ones, zeros = torch.ones(WIDTH), torch.zeros(WIDTH)
    with torch.no_grad():
        for _ in range(depth):
            conv = nn.Conv2d(c_in, WIDTH, 3, padding=1, bias=False)
            if he_init:
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")  # variance 2 / fan_in
            h = conv(h)
            if use_bn:
                h = batch_norm(h, ones, zeros, torch.zeros(WIDTH), torch.ones(WIDTH), training=True)
            h = F.relu(h)
            spreads.append(h.std().item())
            c_in = WIDTH
    return np.array(spreads)


x_probe = x_train[:256].cpu()
spread = {"default init, no BN": signal_spread(31, False, False, x_probe),
          "He init, no BN": signal_spread(31, False, True, x_probe),
          "default init + BN": signal_spread(31, True, False, x_probe)}
fig, ax = plt.subplots(figsize=(7, 4))
for k, (label, s) in enumerate(spread.items()):
    ax.semilogy(np.arange(1, 32), s, "o-", ms=3, color=plot.COLORS[k], label=label)
ax.set(title="Spread of the activations through 31 conv-ReLU layers, at initialisation",
       xlabel="layer", ylabel="std of the activations (log scale)")
ax.legend()
plt.show()
for label, s in spread.items():
    print(f"{label:20s}: std after layer 1 {s[0]:.3g}, after layer 31 {s[-1]:.3g}")

# %% [markdown]
# Without BN and with the default initialisation, the signal shrinks by a constant factor per layer,
# to a tiny fraction of its start after 31 layers (printed above); its gradients shrink the same way.
# With BN the spread is the same at every layer (about 0.6, the spread of a standard normal after a
# ReLU). During training it moves only as the learned `γ` and `β` move, whatever the other weights do.
#
# ## 3. The residual block, written out
#
# The paper's basic block (its figure 2, with BN right after each convolution, as its section 3.4 says) is
# two 3×3 convolutions, each followed by BN, with a ReLU between them; the input `x` is added to the
# output of the second BN, and the sum goes through a ReLU. The **plain** block is the same two layers
# without the addition. We write one class with a `residual` switch, so that the shortcut is the *only*
# difference between the two.

# %%
class Block(nn.Module):
    """conv-BN-ReLU-conv-BN, then (+ x if residual) and ReLU: the basic block of the paper's figure 2."""

    def __init__(self, width, residual):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)  # BN's β replaces the bias
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.residual = residual

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))  # F(x), the residual
        if self.residual:
            out = out + x  # the identity shortcut: no parameters
        return F.relu(out)  # ReLU after the addition, as in the paper


block_res, block_plain = Block(WIDTH, residual=True), Block(WIDTH, residual=False)
x_block = F.relu(torch.randn(4, WIDTH, 8, 8, generator=gen))  # a block's input comes out of a ReLU: x >= 0
checks.check_shape(block_res(x_block), (4, WIDTH, 8, 8), "residual block output")
n_res = sum(p.numel() for p in block_res.parameters())
n_plain = sum(p.numel() for p in block_plain.parameters())
print(f"parameters per block: residual {n_res}, plain {n_plain} (2 × 3·3·{WIDTH}·{WIDTH} weights + 2 × 2·{WIDTH} for γ, β)")

# %% [markdown]
# The paper's argument in one test: suppose the best thing a block can do is nothing (the identity).
# A residual block gets there by setting its last `γ` and `β` to zero, so `F(x) = 0` and the block
# returns `ReLU(x) = x` (its input is non-negative). The plain block with the same weights returns
# `ReLU(0) = 0` everywhere: it destroys the signal, and to pass it on it would have to *learn* the
# identity through two convolutions, two BNs and two ReLUs.

# %%
for block in (block_res, block_plain):
    block.eval()
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
with torch.no_grad():
    out_res, out_plain = block_res(x_block), block_plain(x_block)
checks.check_close(out_res, x_block, "residual block with F(x) = 0 vs its input")
print(f"plain block with the same weights: largest output {out_plain.abs().max().item():.1f} (its input reaches "
      f"{x_block.max().item():.1f})")

# %% [markdown]
# ## 4. Plain and residual networks of any depth
#
# Following the paper's CIFAR-10 design, a network of depth `d` counts its **weighted layers**: one
# 3×3 convolution on the input image (the stem, with BN and ReLU), `(d − 2) / 2` blocks of two
# convolutions each, then global average pooling over the 8×8 positions and one linear layer to the
# 10 classes. The paper's CIFAR-10 nets also halve the feature map twice and double the channels (16,
# 32, 64); on 8×8 digits we keep one stage of `WIDTH` channels at full resolution, so every shortcut is a
# pure identity.
#
# For each depth we build the plain net and then copy it into the residual net: **the same initial
# weights**, and (below) the same minibatches in the same order. Any difference in training comes from
# the shortcuts alone.

# %%
class Net(nn.Module):
    """Stem conv-BN-ReLU, (depth − 2) / 2 blocks, global average pooling, linear head: `depth` weighted layers."""

    def __init__(self, depth, width, residual):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[Block(width, residual) for _ in range((depth - 2) // 2)])
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        h = self.blocks(self.stem(x))  # (N, width, 8, 8)
        return self.head(h.mean(dim=(2, 3)))  # global average pooling, then (N, 10)

    def weighted_layers(self):
        """The weight tensor of every weighted layer, input to output: stem, two per block, head."""
        return ([self.stem[0].weight] + [w for b in self.blocks for w in (b.conv1.weight, b.conv2.weight)]
                + [self.head.weight])


def make_pair(depth):
    """A plain net and a residual net of the given depth that start from the very same weights."""
    torch.manual_seed(SEED * 1000 + depth)  # each depth draws its own weights, the same on every run
    plain = Net(depth, WIDTH, residual=False).to(device)
    res = copy.deepcopy(plain)
    for block in res.blocks:
        block.residual = True
    return {"plain": plain, "ResNet": res}


nets = {depth: make_pair(depth) for depth in DEPTH_LIST}
for depth, pair in nets.items():
    counts = [sum(p.numel() for p in net.parameters()) for net in pair.values()]
    assert counts[0] == counts[1] and len(pair["plain"].weighted_layers()) == depth
    print(f"depth {depth:2d}: {len(pair['plain'].blocks):2d} blocks, {counts[0]:,} parameters (plain and ResNet alike)")
checks.check_shape(nets[depth]["ResNet"](x_train[:5]), (5, 10), f"ResNet-{depth} output")

# %% [markdown]
# ## 5. The gradient at each layer, at initialisation
#
# Is the degradation a problem of gradients that vanish on their way back to the first layers? Before
# any training, we pass one batch of 256 training digits through each network (training mode, so BN
# uses the batch statistics), backpropagate the loss, and measure the norm of the gradient of every
# weighted layer's weights.

# %%
def layer_grad_norms(net, x, y):
    """The norm of the loss gradient for each weighted layer's weights (input to output), one batch, training mode."""
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    norms = np.array([w.grad.norm().item() for w in net.weighted_layers()])
    net.zero_grad()
    return norms


x_grad, y_grad = x_train[:256], y_train[:256]
grad_init = {(depth, kind): layer_grad_norms(net, x_grad, y_grad)
             for depth, pair in nets.items() for kind, net in pair.items()}
DEEP, SHALLOW = DEPTH_LIST[-1], DEPTH_LIST[0]
for kind, net in nets[DEEP].items():
    g = grad_init[(DEEP, kind)][:-1]  # the convolutions, without the linear head
    with torch.no_grad():
        features = net.blocks(net.stem(x_grad)).mean(dim=(2, 3))  # what the linear head sees, (256, WIDTH)
    print(f"{kind}-{DEEP} at initialisation: conv gradient norms from {g.min():.3g} to {g.max():.3g}; "
          f"the largest is {g.max() / g[-1]:.1f}× the last conv layer's, at layer {g.argmax() + 1}. "
          f"Mean norm of the pooled features: {features.norm(dim=1).mean().item():.2f}")
    record.metric(f"{kind.lower()}{DEEP}_init_grad_max_over_last", float(g.max() / g[-1]))

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
for kind, color in (("plain", plot.COLORS[3]), ("ResNet", plot.COLORS[0])):
    g = grad_init[(DEEP, kind)]
    ax.semilogy(np.arange(1, DEEP), g[:-1], "o-", ms=4, color=color, label=f"{kind}-{DEEP}, convolutions")
    ax.semilogy([DEEP], g[-1:], "s", ms=7, color=color, label=f"{kind}-{DEEP}, linear head")
ax.set(title=f"Gradient norm per layer at initialisation, depth {DEEP} (same weights, same batch)",
       xlabel="weighted layer (1 = next to the input)", ylabel="‖∂loss/∂W‖ (log scale)")
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# get gradients many times larger than the last convolution's (the ratio is printed above: tens of times
# or more in the plain net at depth 32, a few times in the ResNet). This growth with depth is a known
# property of deep plain networks with BatchNorm at initialisation (Yang et al., 2019); He et al. had
# checked that the gradients of their BN plain nets were not vanishing, and concluded that the degradation
# must be an optimisation problem of another kind ("exponentially low convergence rates" was their guess).
# In the ResNet, the gradient that reaches a block's input is the sum of the gradient through its two
# layers and the gradient that arrives unchanged through the shortcut, so the norms stay within a much
# narrower band. (The ResNet's linear head gets the larger gradient: its input, the pooled output of the
# last block, is larger, because every shortcut adds a block's output to what was already there; the mean
# feature norms are printed above.)
#
# ## 6. Training plain and residual nets at every depth
#
# Every network trains with SGD with momentum 0.9 (lesson 02) at learning rate `LR`, on the same
# `N_STEPS` minibatches of `BATCH_SIZE` digits, in the same order (one pass over the shuffled training set
# after another).
#
# **How we measure the training loss.** The obvious way, the loss on the whole training set in
# evaluation mode, is erratic here. In evaluation mode BN uses its running averages, and those average
# the batch statistics of the last ten or so steps, taken while the weights were still moving fast. In a
# deep plain net that is still far from converged, those averages do not fit the final weights well,
# and the mismatches can compound over 30 layers. So the training loss we report is what the network
# actually optimised: the **mean of the last `LOSS_WINDOW` minibatch losses**, in training mode. (We
# also print the evaluation-mode loss, to show the difference.)
#
# For the test set we do what the BN paper's Algorithm 2 prescribes for inference: once training is
# over, freeze the weights and replace the running averages by the **population statistics**, each
# channel's mean and (unbiased) variance averaged over batches of the whole training set. PyTorch does
# this when a layer's `momentum` is `None`: its running statistics become a plain average over the
# batches it sees.

# %%
BATCHES = torch.cat([torch.randperm(len(y_train), generator=torch.Generator().manual_seed(SEED + e))
                     for e in range(N_STEPS * BATCH_SIZE // len(y_train) + 1)])
BATCHES = BATCHES[:N_STEPS * BATCH_SIZE].view(N_STEPS, BATCH_SIZE).to(device)  # step t trains on BATCHES[t]


def train(net):
    """N_STEPS of SGD with momentum on the fixed minibatch sequence; returns the loss of every minibatch."""
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    net.train()
    losses = []
    for idx in BATCHES:
        loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


@torch.no_grad()
def evaluate(net):
    """Evaluation mode (BN uses its stored statistics): the loss on the whole training set and the test accuracy."""
    net.eval()
    train_loss = F.cross_entropy(net(x_train), y_train).item()
    test_acc = (net(x_test).argmax(1) == y_test).float().mean().item()
    net.train()
    return train_loss, test_acc


@torch.no_grad()
def use_population_statistics(net):
    """The BN paper's Algorithm 2: with the weights frozen, set every BN layer's statistics to their
    average over batches of the whole training set (momentum None: a plain average, not a moving one)."""
    net.train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    for idx in torch.arange(len(y_train), device=device).split(BATCH_SIZE):
        net(x_train[idx])


runs = {}
t0 = time.perf_counter()
for depth, pair in nets.items():
    for kind, net in pair.items():
        t1 = time.perf_counter()
        losses = train(net)
        eval_loss_running, _ = evaluate(net)  # with the running averages left by training
        use_population_statistics(net)
        eval_loss, test_acc = evaluate(net)  # with the population statistics
        runs[(depth, kind)] = {"losses": losses, "final": losses[-WINDOW:].mean(), "eval_loss_running": eval_loss_running,
                               "eval_loss": eval_loss, "test_acc": test_acc,
                               "grad_end": layer_grad_norms(net, x_grad, y_grad)}
        print(f"{kind:6s} depth {depth:2d}: {time.perf_counter() - t1:5.1f} s")
print(f"all {len(runs)} networks: {time.perf_counter() - t0:.0f} s")

# %%
print(f"{'net':10s} {'training loss':>14s} {'eval-mode loss on the training set':>36s} {'test accuracy':>14s}")
print(f"{'':10s} {f'(last {WINDOW} steps)':>14s} {'running averages':>18s} {'population stats':>17s} "
      f"{f'({N_TEST} digits)':>14s}")
for (depth, kind), r in runs.items():
    print(f"{kind + '-' + str(depth):10s} {r['final']:14.4f} {r['eval_loss_running']:18.4f} {r['eval_loss']:17.4f} "
          f"{r['test_acc']:14.3f}")

# %%
def smooth(v, k=10):
    """Running mean over k steps (the minibatch losses are noisy)."""
    return np.convolve(v, np.ones(k) / k, mode="valid")


K_SMOOTH = min(10, N_STEPS // 2)
steps_smooth = np.arange(K_SMOOTH, N_STEPS + 1)
fig, (ax_c, ax_d) = plt.subplots(1, 2, figsize=(13, 4.5))
for j, depth in enumerate(DEPTH_LIST):
    for kind, ls in (("plain", "--"), ("ResNet", "-")):
        ax_c.semilogy(steps_smooth, smooth(runs[(depth, kind)]["losses"], K_SMOOTH), ls,
                      color=plot.COLORS[j], label=f"{kind}-{depth}")
ax_c.set(title=f"Training loss (running mean over {K_SMOOTH} minibatches)", xlabel="step",
         ylabel="cross-entropy (log scale)")
ax_c.legend(ncol=2, fontsize=9)
for kind, color, marker in (("plain", plot.COLORS[3], "s"), ("ResNet", plot.COLORS[0], "o")):
    ax_d.semilogy(DEPTH_LIST, [runs[(d, kind)]["final"] for d in DEPTH_LIST], marker + "-", color=color, label=kind)
ax_d.set(title=f"Final training loss vs depth, after {N_STEPS} steps", xlabel="weighted layers",
         ylabel=f"mean of the last {WINDOW} minibatch losses (log)", xticks=DEPTH_LIST)
ax_d.legend()
fig.tight_layout()
plt.show()

shallow_over_deep = runs[(SHALLOW, "plain")]["final"] / runs[(DEEP, "plain")]["final"]
res_over_plain = runs[(DEEP, "ResNet")]["final"] / runs[(DEEP, "plain")]["final"]
print(f"training loss after {N_STEPS} steps: plain-{DEEP} / plain-{SHALLOW} = {1 / shallow_over_deep:.1f}, "
      f"plain-{DEEP} / ResNet-{DEEP} = {1 / res_over_plain:.1f}")
checks.milestone("plain_shallow_over_deep_loss", shallow_over_deep, 0.5, "<=",
                 note=f"training loss of plain-{SHALLOW} / plain-{DEEP} after {N_STEPS} steps (mean of the last "
                      f"{WINDOW} minibatch losses); at most 0.5 means the deep plain net ends at least 2× higher "
                      "after the same fixed number of steps (a statement about training speed, not the end point)")
checks.milestone("resnet_over_plain_deep_loss", res_over_plain, 0.5, "<=",
                 note=f"training loss of ResNet-{DEEP} / plain-{DEEP} after {N_STEPS} steps, same initial weights "
                      "and minibatches; at most 0.5 means the ResNet ends at least 2× lower")
for (depth, kind), r in runs.items():
    record.metric(f"{kind.lower()}{depth}_train_loss", float(r["final"]))
record.metric(f"plain{DEEP}_test_acc", runs[(DEEP, "plain")]["test_acc"])
record.metric(f"resnet{DEEP}_test_acc", runs[(DEEP, "ResNet")]["test_acc"])

# %% [markdown]
# This is the paper's figure 1 and figure 6 at a small scale. Read the right-hand panel first:
#
# * **The degradation problem.** The deepest plain net ends with a far higher *training* loss than the
#   shallowest one (the factor is printed above; the milestone asks for at least 2×). It is not
#   overfitting: this is the loss on the training data itself. With the population statistics, its
#   loss on the whole training set is high too, and so is its test error (table above).
# * **It is not monotone.** Going from 4 to 10 layers does not hurt the plain net: on each of the five
#   seeds we ran, plain-10 ended *below* plain-4. The trouble starts beyond that: 20 layers are worse,
#   32 much worse (more than 20× plain-4's loss on each of those seeds). The paper's shallowest plain
#   nets, 20 layers on CIFAR-10 and 18 on ImageNet, were its best plain nets; it did not train shallower
#   ones, so its curves do not show where the degradation begins.
# * **The shortcut removes it.** The residual nets, with the same weights at the start and the same
#   minibatches, end far below the plain net at depth 32 (printed above), and at every depth they end
#   far below plain-20 and plain-32. But the deeper ResNets are not consistently *better* than
#   ResNet-10: the digits are an easy problem, and 300 steps are few. In the paper, with far more data
#   and training, deeper ResNets kept improving.
#
# The table's running-average column shows why we did not measure with it: for the deep plain nets it
# can differ from the training-mode loss by a large factor, in either direction, from seed to seed. The
# population-statistics column is what BN's inference is meant to use (Algorithm 2 of the paper); the
# test accuracies are measured with it.
#
# **A fixed budget.** We compare the nets after the same number of steps, so "at least 2×" says how much
# slower the deep plain net trains, not where it would end after many more steps: run the lesson with
# `STEPS` 1200, four times the default, to see whether the gap closes. The paper trained to convergence with
# a learning-rate schedule, and its deep plain nets still ended with a higher training error than the
# shallow ones: there the degradation held at the end of training, not only along the way.
#
# ## 7. Explore: one depth at a time
#
# The slider picks a depth. On the left, the training-loss curves of the plain and the residual net of
# that depth. On the right, the gradient norm of every weighted layer, at initialisation (light) and
# after training (dark), for both nets. The page above showed the gradients only at the largest depth
# and only at initialisation. Things to look for: at which depth does the plain net's gradient begin to
# grow towards the input? After training, which layers of the plain net get the largest gradients?

# %%
def draw_depth(depth):
    """Training curves and per-layer gradient norms (at initialisation and after training) at one depth."""
    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(13, 4.3))
    for kind, color in (("plain", plot.COLORS[3]), ("ResNet", plot.COLORS[0])):
        r = runs[(depth, kind)]
        ax_l.semilogy(steps_smooth, smooth(r["losses"], K_SMOOTH), color=color,
                      label=f"{kind}-{depth}: final {r['final']:.3g}")
        layers = np.arange(1, depth + 1)
        ax_g.semilogy(layers, grad_init[(depth, kind)], "o:", ms=3, color=color, alpha=0.45,
                      label=f"{kind}-{depth}, at initialisation")
        ax_g.semilogy(layers, r["grad_end"], "o-", ms=3, color=color, label=f"{kind}-{depth}, after {N_STEPS} steps")
    ax_l.set(title=f"Depth {depth}: training loss (running mean over {K_SMOOTH} minibatches)", xlabel="step",
             ylabel="cross-entropy (log scale)")
    ax_l.legend()
    ax_g.set(title=f"Depth {depth}: gradient norm per layer (last point: the linear head)",
             xlabel="weighted layer (1 = next to the input)", ylabel="‖∂loss/∂W‖ (log scale)")
    ax_g.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax_g.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


DEPTH_VIEW = DEPTH_LIST[-2]  # the page above already showed the deepest
depth_slider = widgets.explore(draw_depth, DEPTH_LIST, DEPTH_VIEW, "depth")

# %% [markdown]
# ## 8. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy)
# and a check cell that tells you what is wrong, if anything. No later section uses your answers.
#
# ### Exercise 1: fold BatchNorm into the convolution
#
# In evaluation mode BN is a fixed affine map per channel: `y = γ (z − μ̂) / √(σ̂² + ε) + β`, with the
# running statistics `μ̂`, `σ̂²`. So a convolution followed by BN in evaluation mode is just *one*
# convolution with new weights and a bias. Deployed networks use this to make BN free at inference.
# Write `fold_bn(conv_weight, bn)`: return the weight `(C_out, C_in, k, k)` and the bias `(C_out,)` of the
# single convolution. (Hint: channel `c`'s filter is multiplied by `s_c = γ_c / √(σ̂²_c + ε)`, and the
# bias is `β_c − s_c μ̂_c`.)

# %% tags=["exercise"]
def fold_bn(conv_weight, bn):
    """Weight and bias of one convolution equal to conv (no bias, weight conv_weight) then bn in evaluation mode."""
    # TODO: use bn.weight, bn.bias, bn.running_mean, bn.running_var and bn.eps; return (weight, bias)
    return None, None

# %% tags=["solution"]
def fold_bn(conv_weight, bn):
    """Weight and bias of one convolution equal to conv (no bias, weight conv_weight) then bn in evaluation mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # one factor per output channel
    return conv_weight * scale.view(-1, 1, 1, 1), bn.bias - scale * bn.running_mean

# %% tags=["check"]
_block = nets[DEEP]["ResNet"].blocks[0]
_x = x_train[:32]
with torch.no_grad():
    _h = nets[DEEP]["ResNet"].stem(_x)  # a real input for the block's first convolution
    _block.eval()
    _expected = _block.bn1(_block.conv1(_h))
    _w, _b = fold_bn(_block.conv1.weight, _block.bn1)
    _block.train()
checks.check(_w is not None and _b is not None, "fold_bn returned None: the TODO is not done yet.",
             ok_message="fold_bn returns a weight and a bias.", hint="Return (conv_weight * scale, beta - scale * mean).")
checks.check_shape(_w, tuple(_block.conv1.weight.shape), "folded weight", hint="One factor per output channel: scale.view(-1, 1, 1, 1).")
checks.check_shape(_b, (_block.conv1.weight.shape[0],), "folded bias")
with torch.no_grad():
    _scale = _block.bn1.weight / torch.sqrt(_block.bn1.running_var + _block.bn1.eps)
    checks.check_close(_w, _block.conv1.weight * _scale.view(-1, 1, 1, 1), "folded weight", atol=1e-5,
                       hint="Channel c's filter times s_c = γ_c / sqrt(running_var_c + eps): the running "
                            "statistics, not a batch's, and eps inside the square root.")
    checks.check_close(_b, _block.bn1.bias - _scale * _block.bn1.running_mean, "folded bias", atol=1e-5,
                       hint="BN subtracts the running mean before it scales, so the bias is β_c − s_c μ̂_c, "
                            "not β_c alone.")
with torch.no_grad():
    _folded = F.conv2d(_h, _w, _b, padding=1)
checks.check_close(_folded, _expected, "one folded convolution vs conv + BN (evaluation mode), trained block", atol=1e-4,
                   hint="Use the running statistics (not a batch's), and eps inside the square root: "
                        "scale = γ / sqrt(running_var + eps).")

# %% [markdown]
# ### Exercise 2: a block that changes the number of channels
#
# In the paper's networks, the first block of each stage halves the feature map (a stride-2
# convolution) and doubles the channels. Then `x` no longer has the shape of `F(x)`, and the shortcut
# must change too. The paper tried zero-padding the extra channels (option A, used on CIFAR-10) and a
# **1×1 convolution with stride 2** (option B, a "projection"). Write the option-B block: `conv1` is
# 3×3 with stride `stride` from `c_in` to `c_out` channels, `bn1`, ReLU, `conv2` 3×3 from `c_out` to
# `c_out`, `bn2`; the shortcut is `proj`, a 1×1 convolution with stride `stride`, then `proj_bn`. All
# convolutions without bias, padding 1 for the 3×3 ones. Output: `ReLU(F(x) + proj_bn(proj(x)))`.

# %% tags=["exercise"]
class DownBlock(nn.Module):
    """Residual block from c_in to c_out channels with stride `stride` and a 1×1 projection shortcut (option B)."""

    def __init__(self, c_in, c_out, stride=2):
        super().__init__()
        # TODO: create self.conv1, self.bn1, self.conv2, self.bn2, self.proj and self.proj_bn

    def forward(self, x):
        # TODO: return ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + proj_bn(proj(x)))
        return None

# %% tags=["solution"]
class DownBlock(nn.Module):
    """Residual block from c_in to c_out channels with stride `stride` and a 1×1 projection shortcut (option B)."""

    def __init__(self, c_in, c_out, stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.proj = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
        self.proj_bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.proj_bn(self.proj(x)))

# %% tags=["check"]
_blk = DownBlock(16, 32, stride=2)
_x = torch.randn(4, 16, 8, 8, generator=torch.Generator().manual_seed(0))
_out = _blk(_x)
checks.check(_out is not None, "DownBlock.forward returned None: the TODO is not done yet.",
             ok_message="forward returns a tensor.", hint="Write the six layers in __init__, then the forward pass.")
checks.check_shape(_out, (4, 32, 4, 4), "DownBlock(16, 32, stride 2) output for a (4, 16, 8, 8) input",
                   hint="Stride 2 in conv1 and in proj halves 8×8 to 4×4; padding 1 on the 3×3 convolutions.")
_names = ["conv1", "bn1", "conv2", "bn2", "proj", "proj_bn"]
checks.check(all(hasattr(_blk, n) for n in _names), f"DownBlock needs the layers {', '.join(_names)}.",
             ok_message="all six layers are there.")
_n = sum(p.numel() for p in _blk.parameters())
_n_expected = 9 * 16 * 32 + 9 * 32 * 32 + 16 * 32 + 3 * 2 * 32
checks.check(_n == _n_expected, f"DownBlock(16, 32) has {_n} parameters, expected {_n_expected}.",
             ok_message=f"{_n} parameters: 3×3 weights 16→32 and 32→32, 1×1 projection 16→32, three BNs.",
             hint="No conv biases; the projection is a 1×1 convolution (kernel_size=1).")
with torch.no_grad():
    _ref = F.relu(_blk.bn2(_blk.conv2(F.relu(_blk.bn1(_blk.conv1(_x))))) + _blk.proj_bn(_blk.proj(_x)))
checks.check_close(_out, _ref, "DownBlock output vs ReLU(F(x) + projection(x))", atol=1e-5,
                   hint="The ReLU comes after the addition, and the shortcut has its own BN.")

# %% [markdown]
# ### Exercise 3: count the parameters
#
# Write `count_params(depth, width)`: the number of parameters of our `Net(depth, width, ...)`, from the
# architecture alone. The stem is a 3×3 convolution from 1 to `width` channels (no bias) and a BN (`γ`
# and `β`, `width` each); each of the `(depth − 2) / 2` blocks has two 3×3 convolutions from `width` to
# `width` and two BNs; the head is a linear layer from `width` to 10 with a bias.

# %% tags=["exercise"]
def count_params(depth, width):
    """The number of parameters of Net(depth, width, residual) (the same with or without shortcuts)."""
    # TODO: stem + blocks + head
    return None

# %% tags=["solution"]
def count_params(depth, width):
    """The number of parameters of Net(depth, width, residual) (the same with or without shortcuts)."""
    stem = 9 * width + 2 * width
    block = 2 * (9 * width * width + 2 * width)
    head = width * 10 + 10
    return stem + (depth - 2) // 2 * block + head

# %% tags=["check"]
_cases = [(4, 16), (10, 8), (32, 16), (56, 32)]
_yours = [count_params(d, w) for d, w in _cases]
_true = [sum(p.numel() for p in Net(d, w, residual=False).parameters()) for d, w in _cases]
checks.check(None not in _yours, "count_params returned None: the TODO is not done yet.",
             ok_message="count_params returns numbers.", hint="Add up the stem, the blocks and the head.")
checks.check_close(_yours, _true, "count_params(depth, width) for " + ", ".join(map(str, _cases)),
                   hint="Each 3×3 convolution from a to b channels has 9·a·b weights; each BN has 2·b; "
                        "the head has width·10 + 10.")
print(f"our deepest net here, depth {DEEP}, width {WIDTH}: {count_params(DEEP, WIDTH):,} parameters; the paper's "
      "CIFAR-10 ResNet-110 had 1.7 million (its table 6)")

# %% [markdown]
# ## Going further
#
# * **The official models.** The paper's ImageNet ResNets (50, 101 and 152 layers, Caffe):
#   [github.com/KaimingHe/deep-residual-networks](https://github.com/KaimingHe/deep-residual-networks).
#   torchvision's [`resnet.py`](https://github.com/pytorch/vision/blob/main/torchvision/models/resnet.py)
#   has our `Block` as `BasicBlock`, and the option-B projection of exercise 2 as its `downsample`.
#   PyTorch's BN is documented at
#   [`torch.nn.BatchNorm2d`](https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html).
# * **Pre-activation ResNets.** He, Zhang, Ren, Sun, *Identity Mappings in Deep Residual Networks*
#   (ECCV 2016, [arXiv:1603.05027](https://arxiv.org/abs/1603.05027)): with BN and ReLU moved before each
#   convolution and no ReLU after the addition, the shortcut is a pure identity through the whole
#   network; a 1001-layer ResNet reached 4.62 % error on CIFAR-10.
# * **Why BN helps, and its gradients.** Santurkar, Tsipras, Ilyas, Madry, *How Does Batch Normalization
#   Help Optimization?* (NeurIPS 2018, [arXiv:1805.11604](https://arxiv.org/abs/1805.11604)); Yang,
#   Pennington, Rao, Sohl-Dickstein, Schoenholz, *A Mean Field Theory of Batch Normalization* (ICLR
#   2019, [arXiv:1902.08129](https://arxiv.org/abs/1902.08129)), on the gradient growth of section 5.
# * **Residual nets without normalisation.** Zhang, Dauphin, Ma, *Fixup Initialization: Residual
#   Learning Without Normalization* (ICLR 2019, [arXiv:1901.09321](https://arxiv.org/abs/1901.09321)):
#   scale each residual branch down at initialisation, and deep ResNets train without BN.
# * **Try it.** `-p DEPTHS "4, 10, 20, 32, 44"` adds a deeper pair; `-p STEPS 1200` asks whether the
#   plain nets catch up with more training; `-p LR 0.01` asks whether the deep plain net only needed a
#   smaller learning rate. Next lesson: **04, fast and cheap training**.
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["batchnorm_matches_torch", "plain_shallow_over_deep_loss",
                                                "resnet_over_plain_deep_loss"])
