# ---
# jupyter:
#   course:
#     idea: conv net vs MLP, ReLU vs tanh, dropout, augmentation
#     number: '01'
#     papers:
#     - authors: Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton
#       title: ImageNet Classification with Deep Convolutional Neural Networks
#       url: https://papers.nips.cc/paper/4824
#       year: 2012
#     - arxiv: '1207.0580'
#       authors: Geoffrey E. Hinton, Nitish Srivastava, Alex Krizhevsky, Ilya Sutskever,
#         Ruslan R. Salakhutdinov
#       title: Improving neural networks by preventing co-adaptation of feature detectors
#       year: 2012
#     - authors: Vinod Nair, Geoffrey E. Hinton
#       title: Rectified Linear Units Improve Restricted Boltzmann Machines
#       url: https://www.cs.toronto.edu/~hinton/absps/reluICML.pdf
#       year: 2010
#     title: 'AlexNet: ReLU, dropout, augmentation'
#     track: vision
#     year: '2012'
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
# # 01 · 2012 · AlexNet: ReLU, dropout, augmentation
#
# **Papers**
#
# * Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton (2012). *ImageNet Classification with Deep
#   Convolutional Neural Networks.* NeurIPS 2012. [papers.nips.cc/paper/4824](https://papers.nips.cc/paper/4824)
# * Geoffrey E. Hinton, Nitish Srivastava, Alex Krizhevsky, Ilya Sutskever, Ruslan R. Salakhutdinov (2012).
#   *Improving neural networks by preventing co-adaptation of feature detectors.*
#   [arXiv:1207.0580](https://arxiv.org/abs/1207.0580)
# * Vinod Nair, Geoffrey E. Hinton (2010). *Rectified Linear Units Improve Restricted Boltzmann Machines.*
#   ICML 2010. [pdf](https://www.cs.toronto.edu/~hinton/absps/reluICML.pdf)
#
# ## The problem before this paper
#
# In 2011, computer vision ran on hand-made features. Engineers designed descriptors such as SIFT and
# HOG, pooled them into long vectors, and trained a linear classifier on top. Neural networks were old
# news: LeNet read handwritten cheques in the 1990s. But most people believed they would not scale to
# real photos. Deep nets trained slowly, overfitted, and needed more compute than anyone had.
#
# Then came ImageNet: 1.2 million labelled photos in 1,000 classes (the ILSVRC challenge). The best
# systems of 2011 still got about one image in four wrong (top-5 error about 26 %).
#
# ## The key idea
#
# Train a big **convolutional** network end to end, from raw pixels to labels, on two GPUs, and make
# that work with a few simple tricks:
#
# * **Convolutions** share one small filter across all positions of the image. A feature learned in one
#   place is found everywhere, with far fewer weights than a fully connected layer.
# * **ReLU**, `max(0, x)`, instead of `tanh`. It does not saturate, so gradients stay large. In the
#   paper's figure 1 a ReLU network reaches 25 % training error on CIFAR-10 six times faster.
# * **Dropout** in the big fully connected layers: during training, each unit is switched off with
#   probability 0.5. No unit can rely on any other, which reduces overfitting.
# * **Data augmentation**: random 224×224 crops of the 256×256 images (that is, random translations),
#   horizontal flips, and colour jitter. More training data, for free.
#
# The network had 60 million parameters, 5 convolutional and 3 fully connected layers, and trained for
# about six days on two GTX 580 GPUs. It won ILSVRC-2012 with a top-5 error of **15.3 %**; the second
# best entry had 26.2 %.
#
# ## What changed after
#
# Within two years nearly every vision system was a deep conv net: ZFNet (2013), VGG and GoogLeNet
# (2014), ResNet (2015, lesson 03). GPUs became the standard tool, and frameworks (Caffe, Theano,
# TensorFlow, PyTorch) grew around them. ReLU became the default activation. Dropout became the default
# regulariser of large layers (batch norm and heavy augmentation later took over part of its job).
# "Train a bigger network on more data with more compute" became the recipe of the decade.
#
# ## What we do here, and what scale changes
#
# We cannot train on ImageNet in a minute on a laptop CPU. Instead we use **real handwritten digits**
# (scikit-learn's 1,797 scans), enlarged and dropped at a random place on a noisy 32×32 canvas. Where the
# digit sits changes from image to image, as objects move in photos, so translation matters.
#
# Our "AlexNet" has about 20 thousand parameters instead of 60 million and trains for seconds instead of
# days. Some findings hold at both scales: convolutions beat a fully connected net by far, and in a deep
# network without normalisation ReLU networks train much faster than tanh networks: after the same
# number of steps their median training error is far lower. Others change with scale:
# dropout and augmentation fight overfitting, which was *the* problem of a 60-million-parameter net; our
# small CNN barely overfits, so we show them where they matter here, on a big fully connected net. We
# report what we measure, including where an effect is small.

# %% [markdown]
# ## 中文导读
#
# 2012 年，Krizhevsky、Sutskever 和 Hinton 用一个 8 层的深度卷积神经网络（后来称为 AlexNet）赢得了 ImageNet
# 图像识别竞赛：top-5 错误率 15.3%，第二名是 26.2%。在此之前，视觉系统主要依靠人工设计的特征（SIFT、HOG 等）。
# AlexNet 的成功来自几件简单的事：
#
# * **卷积**：同一个小滤波器在整幅图像上共享权重，参数少，而且学到的特征在任何位置都能用；
# * **ReLU 激活函数** `max(0, x)`：正半轴不会饱和，梯度不会因饱和而变小，论文图 1 中训练速度是 tanh 的 6 倍；
# * **Dropout**：训练时以 0.5 的概率随机关掉全连接层的神经元，减轻过拟合；
# * **数据增强**：随机裁剪（即随机平移）、水平翻转和颜色扰动，相当于免费增加训练数据；
# * 以及用两块 GPU 训练约六天。
#
# 这篇论文开启了深度学习的时代，此后计算机视觉几乎全部转向深度网络。
#
# 本课在 CPU 上用"随机放在噪声画布上的真实手写数字"做小规模复现：从零实现卷积、ReLU、Dropout 和随机平移，
# 并与 PyTorch 的实现做数值对比；然后比较卷积网络和全连接网络（MLP）、在没有归一化的深层网络里 ReLU 和 tanh
# 的训练速度、Dropout 和平移增强对过拟合的作用，最后把第一层卷积核画出来。
# 在这么小的规模上：卷积网络远胜 MLP；在没有归一化的 10 层卷积网络里，训练同样的步数后，ReLU 网络的
# 训练误差（取多次运行的中位数）远低于 tanh 网络，很多 tanh 网络仍接近随机猜测（我们用激活值饱和与梯度大小解释原因）；
# Dropout 和平移增强都提高了 MLP 的测试准确率（平移增强的作用大得多），而我们的小卷积网络本来就几乎不过拟合。
# 所有数字都来自本课的运行结果。
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

import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): the same seed gives the same numbers on the same machine
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: tiny data and a few steps, every code path in seconds; milestones reported, not asserted
EPOCHS = 12  # epochs for the MLP and the main CNN (1 .. 100)
BATCH_SIZE = 32  # minibatch size (8 .. 512)
LR = 0.02  # learning rate of SGD with momentum for the MLPs, in (0, 1]
CNN_LR = 0.01  # learning rate of SGD with momentum for the CNNs, in (0, 1]
MOMENTUM = 0.9  # SGD momentum, in [0, 1); the paper used 0.9
WEIGHT_DECAY = 5e-4  # L2 weight decay; the paper used 5e-4 (0 .. 0.01)
DROPOUT = 0.25  # dropout rate of the MLPs (experiments 1 and 3), in [0, 1); AlexNet used 0.5
MAX_SHIFT = 3  # augmentation: random translations of up to this many pixels each way (0 .. 8)
N_SEEDS = 4  # ReLU vs tanh: runs per activation; their median is compared (1 .. 9)
RACE_DEPTH = 10  # ReLU vs tanh: conv layers of the plain race network (2 .. 16)
RACE_LR = 0.005  # ReLU vs tanh: the learning rate both networks share, in (0, 1]
TARGET_ERROR = 0.25  # ReLU vs tanh: training error to reach; the paper's figure 1 used 25 % (0.05 .. 0.85)
MAX_STEPS = 400  # ReLU vs tanh: optimizer steps of every race run (50 .. 20000)
ABLATION_EPOCHS = 25  # epochs of the MLPs in the dropout and augmentation experiments (1 .. 200)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    EPOCHS=params.Int(min=1, max=100),
    BATCH_SIZE=params.Int(min=8, max=512),
    LR=params.Float(min=0.0, max=1.0, min_inclusive=False),
    CNN_LR=params.Float(min=0.0, max=1.0, min_inclusive=False),
    MOMENTUM=params.Float(min=0.0, max=1.0, max_inclusive=False),
    WEIGHT_DECAY=params.Float(min=0.0, max=0.01),
    DROPOUT=params.Float(min=0.0, max=1.0, max_inclusive=False),
    MAX_SHIFT=params.Int(min=0, max=8),
    N_SEEDS=params.Int(min=1, max=9),
    RACE_DEPTH=params.Int(min=2, max=16),
    RACE_LR=params.Float(min=0.0, max=1.0, min_inclusive=False),
    TARGET_ERROR=params.Float(min=0.05, max=0.85),
    MAX_STEPS=params.Int(min=50, max=20000),
    ABLATION_EPOCHS=params.Int(min=1, max=200),
)
LR, CNN_LR, MOMENTUM, WEIGHT_DECAY, DROPOUT, TARGET_ERROR, RACE_LR = (
    P[k] for k in ("LR", "CNN_LR", "MOMENTUM", "WEIGHT_DECAY", "DROPOUT", "TARGET_ERROR", "RACE_LR"))  # ints become floats
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("01")
plt.show()

# %% [markdown]
# ## 1. The data: handwritten digits that move
#
# `data.digits_on_canvas()` takes the 1,797 real handwritten digits that ship with scikit-learn
# (8×8 scans), enlarges each to 16×16, and pastes it at a random place on a 32×32 canvas of noise.
# The split into train and test is made by *source image*, before placement: no handwriting that you
# test on was ever seen in training, at any position. Each digit is placed 3 times, at different
# positions, on both sides of the split: the test set holds 3 placements of every held-out digit, so
# that one test image moves the accuracy by less than 0.1 point. The canvas settings are fixed in
# `datasets/manifest.toml`, so every lesson that uses this set sees the same data.

# %%
canvas = data.digits_on_canvas()
x_train, y_train = canvas["x_train"], canvas["y_train"]
x_test, y_test = canvas["x_test"], canvas["y_test"]
for name, t in [("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)]:
    print(f"{name:8s} {str(tuple(t.shape)):18s} {t.dtype}")
print(f"pixel values in [{x_train.min():.2f}, {x_train.max():.2f}], mean {x_train.mean():.3f}")

# No handwriting is shared between train and test:
shared = set(canvas["src_train"].tolist()) & set(canvas["src_test"].tolist())
assert not shared, f"{len(shared)} source digits are in both train and test"
print(f"{len(set(canvas['src_train'].tolist()))} source digits for training ({len(x_train)} images), "
      f"{len(set(canvas['src_test'].tolist()))} held-out source digits for testing ({len(x_test)} images), none shared")

# %%
plot.image_grid(x_train[:16], titles=[f"label {int(v)}" for v in y_train[:16]], ncols=8,
                title="Training images: real digits at random places on a noisy 32×32 canvas")
plt.show()

# %% [markdown]
# The digit can be anywhere. A classifier must recognise a "3" at the top left and a "3" at the bottom
# right as the same thing. That is the job convolutions are made for.
#
# In SMOKE mode we keep only a few hundred images so that every cell runs in seconds. We also
# keep the first 1,258 training images (one placement of each training digit) as a *small* training set
# for the dropout and augmentation experiments, where we want to see overfitting.

# %%
N_CLASSES = 10
N_SMALL = 1258 if not SMOKE else 128  # one placement per training digit (the first copy of each)
if SMOKE:
    x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:128], y_test[:128]
x_small, y_small = x_train[:N_SMALL], y_train[:N_SMALL]
# Everything lives on the device once; batches are slices of these tensors (no DataLoader needed).
x_train, y_train, x_test, y_test = (t.to(device) for t in (x_train, y_train, x_test, y_test))
x_small, y_small = x_small.to(device), y_small.to(device)
# AlexNet subtracted the mean pixel value; we also divide by the spread, so inputs have unit scale.
PIXEL_MEAN, PIXEL_STD = x_train.mean().item(), x_train.std().item()
print(f"train {tuple(x_train.shape)}, small train {tuple(x_small.shape)}, test {tuple(x_test.shape)}")
print(f"input standardisation: (x - {PIXEL_MEAN:.3f}) / {PIXEL_STD:.3f}")

# %% [markdown]
# ## 2. Convolution, from scratch
#
# A fully connected layer gives every output unit its own weight for every input pixel. On a 32×32 image
# that is 1,024 weights per unit, and a pattern learned at one place says nothing about other places.
#
# A **convolution** slides one small filter (say 5×5) over the image. At each position it takes the dot
# product of the filter with the patch under it. The same 25 weights are used everywhere: a stroke
# detector learned at the top left also fires at the bottom right. With `C` input channels, `O` filters
# of size `K×K`, stride `s` and zero padding `p`:
#
# $$\text{out}[n, o, i, j] = b[o] + \sum_{c=0}^{C-1}\sum_{u=0}^{K-1}\sum_{v=0}^{K-1} w[o, c, u, v]\;
#   x_{\text{pad}}[n, c, i s + u, j s + v]$$
#
# (Deep learning libraries do not flip the filter, so strictly this is a cross-correlation. Since the
# filter is learned, the difference does not matter.)
#
# We first write it the slow, obvious way: a loop over output positions.

# %%
def pad2d(x, p, value=0.0):
    """Surround each image of x (N, C, H, W) with p pixels of `value` on every side."""
    if p == 0:
        return x
    n, c, h, w = x.shape
    out = x.new_full((n, c, h + 2 * p, w + 2 * p), value)
    out[:, :, p:p + h, p:p + w] = x
    return out


def conv2d_loops(x, weight, bias, stride=1, padding=0):
    """2-D convolution by its definition: one dot product per output position."""
    n, c, h, w = x.shape
    o, c_w, k, _ = weight.shape
    assert c == c_w, f"input has {c} channels, filters expect {c_w}"
    xp = pad2d(x, padding)
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (w + 2 * padding - k) // stride + 1
    out = x.new_zeros(n, o, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]  # (N, C, K, K)
            out[:, :, i, j] = torch.einsum("nckl,ockl->no", patch, weight) + bias
    return out


# %% [markdown]
# The loops are clear but slow: one small matrix product per output pixel. The fast way gathers every
# patch first (`Tensor.unfold` makes a sliding-window *view*, no copy), then does one big product.
# This "im2col" trick turns a convolution into a single large matrix product; Caffe (2014) computed its
# convolutions this way. (cuda-convnet, the code AlexNet was trained with, used hand-written direct
# convolution kernels for the GPU instead.)

# %%
def conv2d_unfold(x, weight, bias, stride=1, padding=0):
    """2-D convolution as one tensor product over all sliding windows (im2col)."""
    k = weight.shape[-1]
    xp = pad2d(x, padding)
    patches = xp.unfold(2, k, stride).unfold(3, k, stride)  # (N, C, H_out, W_out, K, K)
    return torch.einsum("nchwkl,ockl->nohw", patches, weight) + bias.view(1, -1, 1, 1)


# Check both against PyTorch's conv2d, on random data, with and without padding and stride.
gen = torch.Generator().manual_seed(SEED)
xc = torch.randn(2, 3, 12, 12, generator=gen)
wc, bc = 0.2 * torch.randn(4, 3, 5, 5, generator=gen), torch.randn(4, generator=gen)  # filter-sized weights
for stride, padding in [(1, 0), (1, 2), (2, 1)]:
    ref = F.conv2d(xc, wc, bc, stride=stride, padding=padding)
    d_loops = (conv2d_loops(xc, wc, bc, stride, padding) - ref).abs().max().item()
    d_unfold = (conv2d_unfold(xc, wc, bc, stride, padding) - ref).abs().max().item()
    print(f"stride {stride}, padding {padding}: output {tuple(ref.shape)}, "
          f"max |ours - F.conv2d| = {d_loops:.1e} (loops), {d_unfold:.1e} (unfold)")
    assert d_loops <= 1e-5 and d_unfold <= 1e-5, "our convolution disagrees with F.conv2d"

# %% [markdown]
# Both agree with `torch.nn.functional.conv2d` to float32 rounding. Now a real layer: we copy the
# weights of an `nn.Conv2d` into our function and compare on a batch of canvas images, and time them.

# %%
layer = nn.Conv2d(1, 16, kernel_size=5, padding=2).to(device)
batch = x_train[:256]
with torch.no_grad():
    conv2d_unfold(batch, layer.weight, layer.bias, padding=2), layer(batch)  # warm-up: time the second calls
    t0 = time.perf_counter(); ours = conv2d_unfold(batch, layer.weight, layer.bias, padding=2); t_ours = time.perf_counter() - t0
    t0 = time.perf_counter(); theirs = layer(batch); t_torch = time.perf_counter() - t0
diff = (ours - theirs).abs().max().item()
print(f"input {tuple(batch.shape)} -> output {tuple(ours.shape)}; max |ours - nn.Conv2d| = {diff:.1e}")
print(f"time: ours {1e3 * t_ours:.1f} ms, nn.Conv2d {1e3 * t_torch:.1f} ms")
assert diff <= 1e-5
print(f"weights: this conv layer has {layer.weight.numel() + layer.bias.numel()} parameters; "
      f"a fully connected layer from 32×32 pixels to 16×32×32 outputs would have {1024 * 16 * 1024 + 16 * 1024:,}")

# %% [markdown]
# Same numbers. From here on the networks use `nn.Conv2d`: it computes exactly our function, in
# optimised C++ (or CUDA) code, and it gives us the gradients for free.
#
# ## 3. ReLU: an activation that does not saturate
#
# Before 2012 most networks used `tanh` or the logistic sigmoid. Both flatten out for large inputs:
# `tanh(5)` is 0.9999, and its slope there is 0.0002. A unit pushed into the flat part barely passes any
# gradient back, so it learns slowly (it "saturates"). Nair & Hinton (2010) used the rectified linear
# unit instead:
#
# $$\mathrm{ReLU}(x) = \max(0, x), \qquad \mathrm{ReLU}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x < 0 \end{cases}$$
#
# Its slope is 1 wherever the unit is active, however large the input.

# %%
def relu(x):
    """max(0, x), elementwise: x where x > 0, else 0."""
    return x * (x > 0)  # a 0/1 mask; x.clamp(min=0) gives the same values but a much slower backward pass on a CPU


class ReLU(nn.Module):
    """Our ReLU as a layer, so it can sit in nn.Sequential."""

    def forward(self, x):
        return relu(x)


z = torch.linspace(-4, 4, 801, requires_grad=True)
relu(z).sum().backward()
grad_relu = z.grad.clone()
z.grad = None
torch.tanh(z).sum().backward()
grad_tanh = z.grad.clone()

assert torch.equal(relu(z), torch.relu(z)), "our ReLU differs from torch.relu"
assert torch.equal(grad_relu, (z > 0).float()), "ReLU's gradient should be 1 for x > 0 and 0 for x < 0"
print("relu(z) equals torch.relu(z); its gradient is exactly 1 for z > 0 and 0 for z < 0")
print(f"tanh slope at z = 0, 2, 4: {1 - np.tanh(0) ** 2:.3f}, {1 - np.tanh(2) ** 2:.3f}, {1 - np.tanh(4) ** 2:.4f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
zs = z.detach().numpy()
plot.curves({"ReLU": relu(z).detach().numpy(), "tanh": torch.tanh(z).detach().numpy()}, x=zs, ax=axes[0],
            title="Activations", xlabel="pre-activation z", ylabel="output")
plot.curves({"ReLU": grad_relu.numpy(), "tanh": grad_tanh.numpy()}, x=zs, ax=axes[1],
            title="Their slopes: tanh's vanishes for |z| > 2", xlabel="pre-activation z", ylabel="d output / d z")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Dropout, from scratch
#
# A big network can memorise its training set: units learn to fix each other's mistakes on exactly those
# examples ("co-adaptation"). Hinton et al. (2012) proposed a blunt cure. During training, set each unit's
# output to zero with probability `p`, a fresh random choice for every example and every step. A unit can
# no longer count on any particular partner being there, so it has to be useful on its own. Each step
# trains a different random sub-network; at test time we use the whole network, which behaves like an
# average of all those sub-networks.
#
# At test time every unit is present, so the next layer would receive larger inputs than in training.
# The original paper halved the outgoing weights at test time. Today's **inverted dropout** does the
# opposite and rescales during training: survivors are multiplied by `1 / (1 - p)`. The expected value
# of each unit is then the same in training and at test time, and the test-time network is left alone.

# %%
class Dropout(nn.Module):
    """Inverted dropout: in training, zero each value with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x  # evaluation: the identity
        keep = 1.0 - self.p
        mask = (torch.rand_like(x) < keep).to(x.dtype)  # 1 with probability keep
        return x * mask / keep

    def extra_repr(self):
        return f"p={self.p}"


# %% [markdown]
# Three checks against `torch.nn.Dropout`, for several rates: in evaluation mode both are the identity;
# in training mode both keep a fraction `1 - p` of the values; and both scale every survivor by exactly
# `1 / (1 - p)`, so the mean is unchanged. (The random masks differ, so we compare statistics.)

# %%
ones = torch.ones(1000, 1000)
for p in (0.1, 0.5, 0.8):
    ours, theirs = Dropout(p), nn.Dropout(p)
    ours.eval(); theirs.eval()
    assert torch.equal(ours(ones), ones) and torch.equal(theirs(ones), ones), "eval mode must be the identity"
    ours.train(); theirs.train()
    torch.manual_seed(SEED)
    a, b = ours(ones), theirs(ones)
    kept_a, kept_b = (a != 0).float().mean().item(), (b != 0).float().mean().item()
    for out, kept in ((a, kept_a), (b, kept_b)):
        assert abs(kept - (1 - p)) < 0.005, f"kept {kept:.4f} of the values, expected {1 - p}"
        assert torch.allclose(out[out != 0], torch.tensor(1 / (1 - p))), "survivors must be scaled by 1/(1-p)"
    print(f"p={p}: kept fraction ours {kept_a:.4f}, nn.Dropout {kept_b:.4f} (expected {1 - p:.1f}); "
          f"survivors = {a[a != 0][0].item():.4f} = 1/(1-p); mean ours {a.mean().item():.4f}, nn.Dropout {b.mean().item():.4f}")
print("eval mode: both are the identity")

# %% [markdown]
# ## 5. Data augmentation: random translations
#
# AlexNet trained on random 224×224 crops of 256×256 images: each time an image is used, the object
# sits at a slightly different place. That is a random **translation**, and it multiplies the number of
# distinct training images for free. (The paper also used horizontal flips, which would turn our digits
# into mirror digits, and colour jitter, which greyscale digits do not need.)
#
# Our version shifts each image by its own random offset `(dy, dx)` with `|dy|, |dx| ≤ max_shift`,
# filling the uncovered border with black (0, as much of the canvas already is; on the noisy canvas it
# shows as a black band along the edge the image moved away from). We pad the batch once,
# then read each image's window through index arrays: no Python loop over images.

# %%
def translate(x, dy, dx, max_shift):
    """Move image n of x (N, C, H, W) down by dy[n] and right by dx[n] pixels (|shift| <= max_shift), zero fill."""
    n, c, h, w = x.shape
    xp = pad2d(x, max_shift)
    rows = (max_shift - dy).view(n, 1) + torch.arange(h, device=x.device)  # (N, H): source row of each output row
    cols = (max_shift - dx).view(n, 1) + torch.arange(w, device=x.device)  # (N, W)
    batch_index = torch.arange(n, device=x.device).view(n, 1, 1)
    # Index (N, H_pad, W_pad, C) with three (N, H, W)-broadcast index arrays -> (N, H, W, C)
    out = xp.permute(0, 2, 3, 1)[batch_index, rows.view(n, h, 1), cols.view(n, 1, w)]
    return out.permute(0, 3, 1, 2)


def random_translate(x, max_shift, generator):
    """Shift every image by its own random (dy, dx), each uniform in {-max_shift, ..., max_shift}."""
    if max_shift == 0:
        return x
    shifts = torch.randint(-max_shift, max_shift + 1, (2, len(x)), generator=generator).to(x.device)
    return translate(x, shifts[0], shifts[1], max_shift)


# Checks: one bright pixel moves where it should; zero shift is the identity; away from the border,
# a shift equals torch.roll (which wraps around instead of filling with zeros).
dot = torch.zeros(1, 1, 32, 32); dot[0, 0, 10, 12] = 1.0
moved = translate(dot, torch.tensor([3]), torch.tensor([-2]), max_shift=4)
assert moved[0, 0, 13, 10] == 1.0 and moved.sum() == 1.0, "the pixel at (10, 12) should move to (13, 10)"
sample = x_train[:64].cpu()
zero = torch.zeros(64, dtype=torch.long)
assert torch.equal(translate(sample, zero, zero, 3), sample), "a zero shift must change nothing"
inner = torch.zeros(5, 1, 32, 32); inner[:, :, 8:24, 8:24] = torch.rand(5, 1, 16, 16, generator=gen)
dys, dxs = torch.tensor([-3, -1, 0, 2, 3]), torch.tensor([2, -3, 1, 0, -2])
rolled = torch.stack([torch.roll(inner[i], shifts=(int(dys[i]), int(dxs[i])), dims=(1, 2)) for i in range(5)])
assert torch.equal(translate(inner, dys, dxs, 3), rolled), "translate should match torch.roll away from the border"
print("translate: the pixel moved from (10, 12) to (13, 10); zero shift = identity; matches torch.roll inside the canvas")

# %%
one = x_train[:1].cpu().repeat(8, 1, 1, 1)
dys, dxs = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (2, 8), generator=torch.Generator().manual_seed(SEED))
plot.image_grid(torch.cat([one[:1], translate(one, dys, dxs, MAX_SHIFT)]), ncols=9,
                titles=["original"] + [f"({int(a):+d}, {int(b):+d})" for a, b in zip(dys, dxs)],
                title=f"One training digit, eight random translations (dy, dx) with MAX_SHIFT = {MAX_SHIFT}")
plt.show()

# %% [markdown]
# ## 6. A small AlexNet, and an MLP to beat
#
# AlexNet is five convolutional layers (with ReLU, and max pooling after some of them) followed by
# three fully connected layers, with dropout on the two hidden ones. Ours keeps the pattern at about
# 1/3000 of the size:
#
# | stage | AlexNet (224×224×3 input) | ours (32×32×1 input) |
# |---|---|---|
# | features | 5 conv layers (96–384 filters, 11×11 to 3×3), ReLU, 3 max pools | 3 conv layers (16, 32, 32 filters; 5×5, 3×3, 3×3), ReLU, 2 max pools |
# | to a vector | flatten the 6×6×256 map | global max pool: the strongest response of each filter, anywhere |
# | classifier | 4096 → 4096 → 1000, dropout 0.5 on both hidden layers | 32 → 128 → 10, dropout on the hidden layer |
# | normalisation | local response normalisation | none |
#
# One change deserves a word. AlexNet flattens its last feature map, so its classifier still knows where
# each feature is. With 1.2 million photos it can learn that. We have 1,258 different digits; a flattened
# classifier overfits to positions. Instead we collapse each feature map to one number, its maximum over
# all positions ("global max pooling"). Network in Network (2013) introduced the idea of global pooling,
# with the *average* over positions; the maximum keeps the strongest response of each filter wherever it
# is. The classifier then sees *which* patterns occur, not *where*, so the output depends much less on the
# digit's position (not at all only for whole shifts of 4 pixels, the two pooling strides, and away
# from the border). This works much better here. We also skip local response normalisation, which later
# work (VGG, 2014) found unnecessary.
#
# All our networks standardise their input first (a fixed step, not learned) and start from
# `torch.nn.init.xavier_uniform_` with the gain PyTorch recommends for their activation
# (`calculate_gain`: √2 for ReLU, 5/3 for tanh), so that ReLU and tanh versions start on an equal footing.

# %%
class Standardize(nn.Module):
    """Fixed input scaling (x - mean) / std, computed once from the training pixels."""

    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x):
        return (x - self.mean) / self.std


class GlobalMaxPool(nn.Module):
    """(N, C, H, W) -> (N, C): the largest response of each channel, wherever it is."""

    def forward(self, x):
        return x.amax(dim=(2, 3))


def init_weights(model, activation):
    """Xavier-uniform weights with the gain recommended for `activation`, zero biases."""
    gain = nn.init.calculate_gain("tanh" if activation is nn.Tanh else "relu")
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=gain)
            nn.init.zeros_(m.bias)
    return model


def alexnet_mini(activation=ReLU, p_drop=0.5, widths=(16, 32, 32), hidden=128):
    """AlexNet's recipe, small: conv-ReLU-pool blocks, a global max pool, then a classifier with dropout."""
    c1, c2, c3 = widths
    model = nn.Sequential(
        Standardize(PIXEL_MEAN, PIXEL_STD),
        nn.Conv2d(1, c1, kernel_size=5, padding=2), activation(), nn.MaxPool2d(2),   # 32×32 -> 16×16
        nn.Conv2d(c1, c2, kernel_size=3, padding=1), activation(), nn.MaxPool2d(2),  # 16×16 -> 8×8
        nn.Conv2d(c2, c3, kernel_size=3, padding=1), activation(),                   # 8×8
        GlobalMaxPool(),                                                             # -> c3 numbers
        nn.Linear(c3, hidden), activation(), Dropout(p_drop),
        nn.Linear(hidden, N_CLASSES),
    )
    # "Channels last" stores each pixel's channels together: the same numbers, faster convolutions on a CPU.
    return init_weights(model, activation).to(memory_format=torch.channels_last)


def mlp(p_drop=0.5, hidden=256):
    """The baseline: two hidden fully connected layers on the 1,024 raw pixels, same ReLU and dropout."""
    model = nn.Sequential(
        Standardize(PIXEL_MEAN, PIXEL_STD), nn.Flatten(),
        nn.Linear(32 * 32, hidden), ReLU(), Dropout(p_drop),
        nn.Linear(hidden, hidden), ReLU(), Dropout(p_drop),
        nn.Linear(hidden, N_CLASSES),
    )
    return init_weights(model, ReLU)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# Shapes, layer by layer, on a batch of 2 canvas images.
torch.manual_seed(SEED)
cnn_demo = alexnet_mini().to(device)
h = x_train[:2]
print(f"{'input':70s} {tuple(h.shape)}")
for layer in cnn_demo:
    h = layer(h)
    print(f"{layer.__class__.__name__ + '(' + layer.extra_repr() + ')':70s} {tuple(h.shape)}")
checks.check_shape(h, (2, N_CLASSES), "CNN output")
print(f"parameters: CNN {n_params(cnn_demo):,}; MLP {n_params(mlp()):,}")

# %% [markdown]
# The MLP has more than ten times as many parameters as the CNN. We will see that the number of
# parameters is not what matters here: the *structure* is.
#
# ## 7. The training loop
#
# This is the loop every later lesson reuses. It is plain minibatch SGD with momentum and weight decay,
# the optimiser AlexNet used (momentum 0.9, weight decay 0.0005, batch size 128 there). The data already
# sit in memory on the device, so a batch is just an index into a tensor. AlexNet divided the learning
# rate by 10 when the validation error stopped improving; we do it once, for the last quarter of the
# epochs. Random translations, when asked for, are drawn fresh for every batch.

# %%
@torch.no_grad()
def accuracy(model, x, y, batch_size=1024):
    """Fraction of correct predictions, in evaluation mode (dropout off)."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum().item()
    return correct / len(x)


def train(model, x, y, epochs, seed, lr=LR, max_shift=0, batch_size=BATCH_SIZE, weight_decay=WEIGHT_DECAY,
          x_eval=None, y_eval=None, n_train_eval=512):
    """Minibatch SGD with momentum. Returns per-epoch history: training loss, train and test accuracy."""
    gen = torch.Generator().manual_seed(seed)  # data order and augmentation: same seed, same run
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=weight_decay)
    steps_per_epoch = max(1, len(x) // batch_size)
    history = {"loss": [], "train_acc": [], "test_acc": []}
    for epoch in range(epochs):
        for group in opt.param_groups:  # step schedule: lr / 10 for the last quarter of the epochs
            group["lr"] = lr if epoch < 0.75 * epochs else lr / 10
        model.train()
        order = torch.randperm(len(x), generator=gen).to(x.device)
        total = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb = random_translate(x[idx], max_shift, gen)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        history["loss"].append(total / steps_per_epoch)
        history["train_acc"].append(accuracy(model, x[:n_train_eval], y[:n_train_eval]))
        if x_eval is not None:
            history["test_acc"].append(accuracy(model, x_eval, y_eval))
    return history

# %% [markdown]
# ## 8. Experiment 1: a conv net against an MLP
#
# Same data, same optimiser, same epochs and the same random translations; only the architecture
# differs. The MLP must learn "a 3 at the top left" and "a 3 at the bottom right" separately. The CNN
# learns one set of filters that works everywhere. The MLP gets dropout (`DROPOUT`) on its big hidden
# layers, as AlexNet's fully connected layers did; the CNN's classifier has only 32 inputs and gets none
# (experiment 3 shows where dropout pays). Each network uses the learning rate that suits it (`LR` for
# the MLP, `CNN_LR` for the CNN), as the paper tuned its own.

# %%
EPOCHS_RUN = 1 if SMOKE else EPOCHS
t0 = time.perf_counter()
torch.manual_seed(SEED)
mlp_model = mlp(DROPOUT).to(device)
hist_mlp = train(mlp_model, x_train, y_train, EPOCHS_RUN, SEED, max_shift=MAX_SHIFT, x_eval=x_test, y_eval=y_test)
t_mlp = time.perf_counter() - t0
t0 = time.perf_counter()
torch.manual_seed(SEED)
cnn = alexnet_mini(ReLU, p_drop=0.0).to(device)
hist_cnn = train(cnn, x_train, y_train, EPOCHS_RUN, SEED, lr=CNN_LR, max_shift=MAX_SHIFT, x_eval=x_test, y_eval=y_test)
t_cnn = time.perf_counter() - t0
mlp_acc, cnn_acc = hist_mlp["test_acc"][-1], hist_cnn["test_acc"][-1]
print(f"MLP: test accuracy {mlp_acc:.3f} ({n_params(mlp_model):,} parameters, {t_mlp:.1f} s)")
print(f"CNN: test accuracy {cnn_acc:.3f} ({n_params(cnn):,} parameters, {t_cnn:.1f} s)")

# %%
epochs_axis = np.arange(1, EPOCHS_RUN + 1)
fig, ax = plt.subplots()
for name, hist, color in [("CNN", hist_cnn, plot.COLORS[0]), ("MLP", hist_mlp, plot.COLORS[1])]:
    ax.plot(epochs_axis, hist["test_acc"], "-o", color=color, ms=4, label=f"{name}, test")
    ax.plot(epochs_axis, hist["train_acc"], "--", color=color, label=f"{name}, train")
ax.set(title="Conv net vs MLP on digits at random places (same recipe)", xlabel="epoch", ylabel="accuracy",
       ylim=(0, 1.01))
ax.legend(loc="lower right")
plt.show()

checks.milestone("cnn_test_acc", cnn_acc, 0.95, ">=", note="AlexNet-style CNN, held-out handwriting")
checks.milestone("cnn_minus_mlp", cnn_acc - mlp_acc, 0.10, ">=", note="test accuracy, CNN minus MLP (0.10 = 10 points)")
record.metric("mlp_test_acc", mlp_acc)
record.metric("cnn_train_seconds", round(t_cnn, 1), unit="s")

# %% [markdown]
# The CNN wins by a wide margin, with a sixteenth of the parameters. Weight sharing builds the fact "a
# stroke is a stroke wherever it is" into the network, so it need not be learned from data; the global
# max pool makes the answer depend much less on where the digit is. The MLP has to learn every digit at every
# position separately, from a few examples each, and after the same number of epochs it is far behind,
# even on its own training images. (Small dips in the CNN's curve are the price of a fairly large
# learning rate; the last quarter of the epochs, at a tenth of it, settles them.)
#
# What does the CNN still get wrong? Some held-out digits, with the true label and the CNN's guess:

# %%
with torch.no_grad():
    cnn.eval()
    pred = torch.cat([cnn(x_test[i:i + 512]).argmax(1) for i in range(0, len(x_test), 512)])
wrong = (pred != y_test).nonzero().flatten()[:16].cpu()
if len(wrong):
    plot.image_grid(x_test[wrong].cpu(), titles=[f"{int(y_test[i])} → {int(pred[i])}" for i in wrong], ncols=8,
                    title=f"The CNN's mistakes (true → predicted): {int((pred != y_test).sum())} of {len(y_test)}")
    plt.show()
else:
    print("The CNN classified every test digit correctly.")

# %% [markdown]
# Many mistakes are digits that are hard for people too (the 8×8 scans are coarse); a few sit at the
# very edge of the canvas.
#
# ### How blind to position is each network?
#
# Translations were part of training for both networks. But how much does the *answer* change when a
# test digit moves? We shift every held-out image sideways by `dx` pixels (the uncovered strip is filled
# with black, as in `translate`) and measure both networks' accuracy at each shift. A digit pushed far
# enough is partly cut off by the edge of the canvas, which hurts both.

# %%
SHIFTS = list(range(-8, 9, 2)) if not SMOKE else [-4, 0, 4]


@torch.no_grad()
def shifted_predictions(model, x, dx):
    """Class probabilities of `model` on the images x moved right by dx pixels (zero fill)."""
    model.eval()
    zeros = torch.zeros(len(x), dtype=torch.long, device=x.device)
    moved = translate(x, zeros, torch.full_like(zeros, dx), max_shift=abs(dx))
    return torch.cat([F.softmax(model(moved[i:i + 512]), dim=1) for i in range(0, len(moved), 512)])


shift_probs = {name: {dx: shifted_predictions(model, x_test, dx) for dx in SHIFTS}
               for name, model in [("CNN", cnn), ("MLP", mlp_model)]}
shift_acc = {name: [(shift_probs[name][dx].argmax(1) == y_test).float().mean().item() for dx in SHIFTS]
             for name in shift_probs}
for name in shift_acc:
    print(f"{name} test accuracy at dx = {SHIFTS}: " + ", ".join(f"{a:.2f}" for a in shift_acc[name]))
fig, ax = plt.subplots(figsize=(7, 3.8))
for name, color in [("CNN", plot.COLORS[0]), ("MLP", plot.COLORS[1])]:
    ax.plot(SHIFTS, shift_acc[name], "o-", color=color, label=name)
ax.axvspan(-MAX_SHIFT, MAX_SHIFT, color="0.9", zorder=0, label=f"shifts seen in training (±{MAX_SHIFT})")
ax.set(title="Test accuracy when every held-out digit is moved sideways", xlabel="horizontal shift dx (pixels)",
       ylabel="test accuracy", ylim=(0, 1.02))
ax.legend(loc="lower center")
plt.show()
record.metric("cnn_acc_shift_min", min(shift_acc["CNN"]))
record.metric("mlp_acc_shift_min", min(shift_acc["MLP"]))

# %% [markdown]
# Now one digit at a time. For any held-out digit we follow both networks across every shift: the top
# row is the moved digit, the curves are each network's probability for the true class. The slider walks
# through all the held-out digits (everything was computed above, so it only redraws), sorted into
# groups: digits the CNN keeps at more shifts than the MLP, digits both networks miss even in place,
# digits only the CNN misses in place, and the rest. The cell prints how many digits each group holds.
# The slider starts at the digit where the CNN keeps its answer at the most shifts more than the MLP.

# %%
correct = {name: torch.stack([shift_probs[name][dx].argmax(1) == y_test for dx in SHIFTS]) for name in shift_probs}
# The first placement of every held-out source digit (the test set holds each one at 3 places).
n_sources = min(len(set(canvas["src_test"].tolist())), len(y_test))
both_right = correct["CNN"][SHIFTS.index(0)] & correct["MLP"][SHIFTS.index(0)]
contrast = (correct["CNN"].sum(0) - correct["MLP"].sum(0)).float().masked_fill(~both_right, -float("inf"))
DEMO_START = int(contrast[:n_sources].argmax())  # both right in place; the CNN stays right at the most shifts more


def outcome(i):
    """Which group held-out image i falls in (in place = shift 0)."""
    cnn_in_place, mlp_in_place = (bool(correct[n][SHIFTS.index(0), i]) for n in ("CNN", "MLP"))
    if not cnn_in_place and not mlp_in_place:
        return "both miss"
    if not cnn_in_place:
        return "only CNN misses"
    if correct["CNN"][:, i].sum() > correct["MLP"][:, i].sum():
        return "CNN keeps more"
    return "other"


GROUPS = ["CNN keeps more", "both miss", "only CNN misses", "other"]
groups = {i: outcome(i) for i in range(n_sources)}
print("held-out digits per group:", ", ".join(f"{g}: {sum(v == g for v in groups.values())}" for g in GROUPS))
order = sorted(range(n_sources), key=lambda i: (GROUPS.index(groups[i]), i))
DEMO_LABELS = {f"{groups[i]} · test image {i} (a '{int(y_test[i])}')": i for i in order}
DEMO_DEFAULT = next(label for label, i in DEMO_LABELS.items() if i == DEMO_START)


def draw_shift(label):
    """One held-out digit at every shift, and each network's probability for its true class (precomputed)."""
    i = DEMO_LABELS[label]
    true = int(y_test[i])
    fig = plt.figure(figsize=(11, 4.4))
    grid = fig.add_gridspec(2, len(SHIFTS), height_ratios=[1, 1.6])
    for k, dx in enumerate(SHIFTS):
        ax = fig.add_subplot(grid[0, k])
        moved = translate(x_test[i:i + 1].cpu(), torch.tensor([0]), torch.tensor([dx]), max_shift=abs(dx))
        ax.imshow(moved[0, 0], cmap="gray", vmin=0, vmax=1)
        guesses = "/".join(str(int(shift_probs[n][dx][i].argmax())) for n in ("CNN", "MLP"))
        ax.set_title(f"dx={dx:+d}\n{guesses}", fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    for name, color in [("CNN", plot.COLORS[0]), ("MLP", plot.COLORS[1])]:
        ax.plot(SHIFTS, [shift_probs[name][dx][i, true].item() for dx in SHIFTS], "o-", color=color, label=name)
    ax.axvspan(-MAX_SHIFT, MAX_SHIFT, color="0.9", zorder=0, label=f"shifts seen in training (±{MAX_SHIFT})")
    ax.set(xlabel="horizontal shift dx (pixels)", ylabel=f"probability of '{true}'", ylim=(0, 1.02), xticks=SHIFTS)
    ax.legend(loc="center right", fontsize=9)
    fig.suptitle(f"{label}: moved sideways (above each image: CNN/MLP answer)", fontsize=11)
    fig.tight_layout()
    return fig


shift_control = widgets.explore(draw_shift, list(DEMO_LABELS), DEMO_DEFAULT, "held-out digit")

# %% [markdown]
# The CNN's convolutions and global max pool make it *almost* blind to position: its accuracy stays
# high over the shifts it saw in training and falls only as the digit reaches the edge. It is not
# perfectly blind: pooling in steps of 2 and the edge of the canvas both make the answer depend a
# little on where the digit is. The MLP learned each position separately, so it does worse from the start,
# even inside the shifts it was trained on.
#
# ## 9. Experiment 2: ReLU trains faster than tanh (AlexNet figure 1)
#
# The paper's figure 1 trains a four-layer CNN on CIFAR-10 twice, once with ReLU and once with tanh,
# and plots the training error against epochs: the ReLU network reaches 25 % training error six times
# sooner. Networks then had no normalisation layers; AlexNet's own weights started from a Gaussian with
# standard deviation 0.01.
#
# We race the two activations in that regime: SGD with momentum, no normalisation, no regularisation of
# any kind (no dropout, no weight decay, no augmentation). Only the activation changes. Both networks
# see the same batches in the same order and use the same learning rate. Each starts from the Xavier
# initialisation with the gain recommended for its activation, which is kinder to tanh than a small
# Gaussian.
#
# Saturation is a problem of depth: every tanh layer can squash the gradient a little more. So the race
# network is a plain stack of `RACE_DEPTH` convolutional layers (3×3, 32 filters, a max pool after the
# first layer and after the middle one, then the global max pool and one linear layer). Ten layers
# without normalisation is the kind of network that was hard to train before batch normalisation
# (2015, lesson 03).

# %%
def plain_cnn(activation, depth=RACE_DEPTH, width=32):
    """`depth` 3×3 conv layers with `activation`, max pools after the first and the middle layer, no normalisation."""
    layers, channels = [Standardize(PIXEL_MEAN, PIXEL_STD)], 1
    pool_after = {0, depth // 2 - 1}
    for i in range(depth):
        layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), activation()]
        channels = width
        if i in pool_after:
            layers.append(nn.MaxPool2d(2))
    layers += [GlobalMaxPool(), nn.Linear(width, N_CLASSES)]
    return init_weights(nn.Sequential(*layers), activation).to(memory_format=torch.channels_last)


torch.manual_seed(SEED)
race_demo = plain_cnn(nn.Tanh).to(device)
checks.check_shape(race_demo(x_train[:2]), (2, N_CLASSES), f"plain_cnn({RACE_DEPTH} layers) output")
print(f"{sum(isinstance(m, nn.Conv2d) for m in race_demo)} conv layers, {n_params(race_demo):,} parameters")

# %% [markdown]
# Both networks train for the same `MAX_STEPS` optimizer steps, and we follow the **training error**, as
# the paper's figure 1 does. It is measured the way cuda-convnet reported it: on the minibatches as they
# are trained on, averaged over 10 steps (320 images). From each curve we read the step at which the
# error first reaches the target (25 %, as in the paper), and the error at the end. Each activation runs
# with `N_SEEDS` seeds, and we compare medians, since a single run can be lucky or unlucky.

# %%
EVAL_EVERY = 10 if not SMOKE else 4  # steps per measurement of the training error
RACE_STEPS = MAX_STEPS if not SMOKE else 8


def race_run(activation, seed, lr=RACE_LR, steps_total=RACE_STEPS, every=EVAL_EVERY):
    """Train plain_cnn(activation) with no regularisation for `steps_total` steps of SGD with momentum.

    Returns (steps, errors, reached, model): the training error after every `every` steps (the error rate
    on the last `every` minibatches, measured before each update), the first step at which it was at or
    below TARGET_ERROR (None if never), and the trained model.
    """
    torch.manual_seed(seed)
    model = plain_cnn(activation).to(device).train()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)  # no weight decay
    steps, errors, recent, step = [], [], [], 0
    while step < steps_total:
        order = torch.randperm(len(x_train), generator=gen).to(device)
        for b in range(len(x_train) // BATCH_SIZE):
            idx = order[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
            logits = model(x_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            recent.append((logits.argmax(dim=1) != y_train[idx]).float().mean().item())
            if step % every == 0:
                steps.append(step)
                errors.append(float(np.mean(recent)))
                recent = []
            if step >= steps_total:
                break
    reached = next((s for s, e in zip(steps, errors) if e <= TARGET_ERROR), None)
    return steps, errors, reached, model


race_seeds = [SEED * N_SEEDS + i for i in range(N_SEEDS)]
race = {}
t0 = time.perf_counter()
for name, act in [("ReLU", ReLU), ("tanh", nn.Tanh)]:
    race[name] = [race_run(act, s) for s in race_seeds]
    reached = [str(r[2]) if r[2] is not None else "not reached" for r in race[name]]
    print(f"{name:5s} seeds {race_seeds}: steps to {TARGET_ERROR:.0%} training error: {', '.join(reached)}; "
          f"error after {RACE_STEPS} steps: {', '.join(f'{r[1][-1]:.2f}' for r in race[name])}")
print(f"({time.perf_counter() - t0:.1f} s)")

relu_end = float(np.median([r[1][-1] for r in race["ReLU"]]))
tanh_end = float(np.median([r[1][-1] for r in race["tanh"]]))


def median_steps(runs):
    """Median over seeds of the steps to target; a run that never got there counts as RACE_STEPS."""
    return float(np.median([r[2] if r[2] is not None else RACE_STEPS for r in runs]))


relu_med, tanh_med = median_steps(race["ReLU"]), median_steps(race["tanh"])
censored = tanh_med >= RACE_STEPS
print(f"median training error after {RACE_STEPS} steps: ReLU {relu_end:.2f}, tanh {tanh_end:.2f}")
print(f"median steps to {TARGET_ERROR:.0%}: ReLU {relu_med:.0f}, tanh {'more than ' if censored else ''}{tanh_med:.0f}"
      f" -> tanh needs {'at least ' if censored else ''}{tanh_med / relu_med:.1f}× as many steps as ReLU")

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
for name, color, style in [("ReLU", plot.COLORS[0], "-"), ("tanh", plot.COLORS[1], "--")]:
    for k, (steps, errors, reached, _) in enumerate(race[name]):
        ax.plot(steps, errors, style, color=color, alpha=0.85, label=f"{name} ({N_SEEDS} seeds)" if k == 0 else None)
        if reached is not None:
            ax.plot([reached], [errors[steps.index(reached)]], "o", color=color, ms=5)
ax.axhline(TARGET_ERROR, color="k", lw=1, ls=":", label=f"target {TARGET_ERROR:.0%} (dots: first reached)")
ax.axhline(0.9, color="0.5", lw=1, ls="-.", label="chance (90 % error)")
ax.set(title=f"ReLU vs tanh, {RACE_DEPTH}-layer plain CNN, SGD + momentum, no normalisation\n"
             f"median error after {RACE_STEPS} steps: ReLU {relu_end:.2f}, tanh {tanh_end:.2f}",
       xlabel="optimizer steps (batches of 32)", ylabel="training error (last 10 batches)", ylim=(0, 1))
ax.legend(loc="lower left", fontsize=9)
plt.show()

checks.milestone("relu_error_gap", tanh_end - relu_end, 0.30, ">=",
                 note=f"median training error after {RACE_STEPS} steps, tanh minus ReLU, {N_SEEDS} seeds, "
                      f"{RACE_DEPTH}-layer plain CNN (0.30 = 30 points)")
record.metric("relu_speedup", tanh_med / relu_med, note="median steps to target, tanh / ReLU; a lower bound if tanh never got there")
record.metric("relu_median_steps", relu_med)
record.metric("tanh_median_steps", tanh_med)

# %% [markdown]
# ### Why? Look inside the tanh network
#
# Saturation should leave two marks. Many tanh units should sit on the flat part of the curve, where
# `|z| > 2` and the slope `1 - tanh(z)²` is below 0.071. And since every such unit passes back only a
# fraction of the gradient, the gradient should shrink on its way back to the first layers. We measure
# both on 256 training images, for a fresh tanh network and for every trained network of the race.

# %%
def inside(model, x, y):
    """Per conv layer: fraction of pre-activations with |z| > 2, and the norm of the weight gradient."""
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    outputs = []
    hooks = [c.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach())) for c in convs]
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for h in hooks:
        h.remove()
    flat = [(z.abs() > 2).float().mean().item() for z in outputs]
    grad = [c.weight.grad.norm().item() for c in convs]
    model.zero_grad()
    return np.array(flat), np.array(grad)


x_probe, y_probe = x_train[:256], y_train[:256]
torch.manual_seed(race_seeds[0])
flat_init, grad_init = inside(plain_cnn(nn.Tanh).to(device), x_probe, y_probe)
looks = {name: [inside(r[3], x_probe, y_probe) for r in race[name]] for name in race}
print(f"{'network':22s} {'error at end':>12s} {'most saturated layer':>21s} {'first-layer gradient':>21s}")
print(f"{'tanh, at init':22s} {'':>12s} {flat_init.max():21.1%} {grad_init[0]:21.2g}")
for name in race:
    for seed, r, (flat, grad) in zip(race_seeds, race[name], looks[name]):
        sat = f"{flat.max():21.1%}" if name == "tanh" else f"{'-':>21s}"
        print(f"{name + ', seed ' + str(seed):22s} {r[1][-1]:12.2f} {sat} {grad[0]:21.2g}")
grad_ratio = np.median([g[0] for _, g in looks["ReLU"]]) / np.median([g[0] for _, g in looks["tanh"]])
print(f"median first-layer gradient: ReLU's is {grad_ratio:,.1f} times tanh's")

layers_axis = np.arange(1, RACE_DEPTH + 1)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(layers_axis, flat_init, "o--", color="0.5", label="tanh, at initialisation")
for k, ((flat, _), r) in enumerate(zip(looks["tanh"], race["tanh"])):
    axes[0].plot(layers_axis, flat, "o-", color=plot.COLORS[1], alpha=1 - 0.15 * k,
                 label=f"tanh, seed {race_seeds[k]}, after training (error {r[1][-1]:.2f})")
axes[0].set(title="Saturated tanh units: |z| > 2, slope < 0.071", xlabel="conv layer (1 = next to the input)",
            ylabel="fraction of pre-activations", ylim=(0, None))
axes[0].legend(fontsize=8)
for name, color in [("ReLU", plot.COLORS[0]), ("tanh", plot.COLORS[1])]:
    for k, (_, grad) in enumerate(looks[name]):
        axes[1].semilogy(layers_axis, grad, "o-", color=color, alpha=0.8, label=f"{name}, after training" if k == 0 else None)
axes[1].semilogy(layers_axis, grad_init, "o--", color="0.5", label="tanh, at initialisation")
axes[1].set(title="Gradient norm of each layer's weights", xlabel="conv layer (1 = next to the input)",
            ylabel="‖∂loss/∂W‖ (log scale)")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
record.metric("tanh_saturated_max_layer", float(max(f.max() for f, _ in looks["tanh"])))
record.metric("first_layer_grad_relu_over_tanh", float(grad_ratio))

# %% [markdown]
# At initialisation few tanh units are saturated: the Xavier gain was chosen for that. Training pushes
# some layers onto the flat parts of the curve (compare each tanh row with the first), and the gradient
# that reaches the first layer ends up smaller than in the ReLU networks (compare the medians printed
# below the table). By how much varies a lot from
# run to run (the table): a tanh run that has started to learn keeps more of its gradient. A ReLU unit
# has slope 1 whenever it is active, however large its input, so its gradient does not fade this way.
# ReLU has its own failure: a unit that is never active is "dead" and passes no gradient at all. Now and
# then a ReLU network stalls early, even at this rate: its error stays near 90 % for hundreds of steps. At `RACE_LR` 0.01 whole
# networks die more often (their first-layer gradient is then exactly 0), which is one reason this race uses a
# small rate and compares medians over several seeds.
#
# So ReLU's lead is not a law of nature: it shows where tanh units saturate before the network has
# learned much, in deep, un-normalised networks on a task that is hard at first (finding a small digit
# somewhere in the noise). How much of it is depth? Set `RACE_DEPTH` to 3 in the parameters cell and run
# the lesson again. And the learning rate? Both networks share `RACE_LR`; the paper tuned each network's
# rate separately. The paper's network had four layers but a harsher start (small Gaussian weights,
# pixels with only the mean subtracted) and a far longer run on a harder problem; for AlexNet, which trained for six
# days, "several times faster" meant weeks of GPU time saved.
#
# ## 10. Experiment 3: dropout and the gap between train and test
#
# Dropout fights overfitting, so we need a network that overfits. In AlexNet that was the fully connected
# part: its three FC layers hold about 58 of its 60 million weights, and that is where dropout went. Our
# CNN has almost no fully connected weights, so we test dropout where the paper did, on big fully
# connected layers: the MLP, on the small training set (one placement of each digit, 1,258 images), for
# `ABLATION_EPOCHS` epochs. We follow the accuracy on those training images and on the held-out test
# digits. The gap between the two is how much the network memorised.

# %%
DROPOUT_RATES = sorted({0.0, 0.1, 0.25, 0.5, DROPOUT})
ABL_EPOCHS = ABLATION_EPOCHS if not SMOKE else 1
ablation = {}
t0 = time.perf_counter()
for p in DROPOUT_RATES:
    torch.manual_seed(SEED)
    ablation[("mlp", p, 0)] = train(mlp(p).to(device), x_small, y_small, ABL_EPOCHS, SEED, max_shift=0,
                                    x_eval=x_test, y_eval=y_test)
    h = ablation[("mlp", p, 0)]
    print(f"MLP, dropout p={p:<4}: train {h['train_acc'][-1]:.3f}, test {h['test_acc'][-1]:.3f}, "
          f"gap {h['train_acc'][-1] - h['test_acc'][-1]:+.3f}")
print(f"({time.perf_counter() - t0:.1f} s)")


def final_gap(h):
    """Train accuracy minus test accuracy at the end of training."""
    return h["train_acc"][-1] - h["test_acc"][-1]

# %% [markdown]
# The learning curves of the MLP without dropout (grey) and with `DROPOUT`, then the final accuracies
# at every rate.

# %%
abl_axis = np.arange(1, ABL_EPOCHS + 1)
h0, h_drop = ablation[("mlp", 0.0, 0)], ablation[("mlp", DROPOUT, 0)]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].plot(abl_axis, h0["train_acc"], "--", color="0.55", label="p=0, train")
axes[0].plot(abl_axis, h0["test_acc"], "-", color="0.55", label="p=0, test")
axes[0].plot(abl_axis, h_drop["train_acc"], "--", color=plot.COLORS[0], label=f"p={DROPOUT}, train")
axes[0].plot(abl_axis, h_drop["test_acc"], "-", color=plot.COLORS[3], label=f"p={DROPOUT}, test")
axes[0].set(title=f"MLP learning curves: train − test gap {final_gap(h_drop):.2f} with p={DROPOUT}, "
                  f"{final_gap(h0):.2f} without", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
axes[0].legend(loc="center right")
axes[1].plot(DROPOUT_RATES, [ablation[("mlp", p, 0)]["train_acc"][-1] for p in DROPOUT_RATES], "o--", label="train")
axes[1].plot(DROPOUT_RATES, [ablation[("mlp", p, 0)]["test_acc"][-1] for p in DROPOUT_RATES], "o-", label="test")
axes[1].set(title=f"After {ABL_EPOCHS} epochs on 1,258 digits: accuracy vs dropout rate",
            xlabel="dropout rate p", ylabel="final accuracy", ylim=(0, 1.02))
axes[1].legend()
fig.tight_layout()
plt.show()
test_at = {p: ablation[("mlp", p, 0)]["test_acc"][-1] for p in DROPOUT_RATES}
print(f"test accuracy without dropout {test_at[0.0]:.3f}; with p=0.25 {test_at[0.25]:.3f} "
      f"({test_at[0.25] - test_at[0.0]:+.3f}); with p=0.5 {test_at[0.5]:.3f} ({test_at[0.5] - test_at[0.0]:+.3f})")
checks.milestone("dropout_gain", test_at[0.25] - test_at[0.0], 0.03, ">=",
                 note="MLP on 1,258 digits, test accuracy with dropout p=0.25 minus without (0.03 = 3 points)")
record.metric("dropout_mlp_gap_p0", final_gap(h0))
record.metric("dropout_mlp_test_acc_p0", test_at[0.0])

# %% [markdown]
# Without dropout the MLP fits its 1,258 training images almost perfectly but gets only about a third of
# the test digits right: it has memorised them. Light dropout (p = 0.1 or 0.25) slows the memorising
# and buys several points of test accuracy (printed above). Heavy dropout (p = 0.5) slows training so
# much that 25 epochs are not enough, and its gain is gone. The gap stays large at every rate: dropout
# cannot teach the MLP that a shifted digit is the same digit.
#
# The paper saw both sides too: "Without dropout, our network exhibits substantial overfitting. Dropout
# roughly doubles the number of iterations required to converge." At AlexNet's scale (60 million weights,
# 90 passes over 1.2 million images) the benefit was worth the cost. In our budget of seconds, only a
# light rate pays.
#
# ## 11. Experiment 4: random translations
#
# Now the other regulariser: the same small training set, but every batch is shifted at random by up to
# `MAX_SHIFT` pixels, fresh each time, so each digit is seen at many positions instead of one. We try
# it on both networks, without dropout (the MLP for `ABLATION_EPOCHS` epochs, the CNN for `EPOCHS`).
# The MLP has no idea that a shifted digit is the same digit; the CNN has that idea built in.

# %%
t0 = time.perf_counter()
torch.manual_seed(SEED)
ablation[("mlp", 0.0, MAX_SHIFT)] = train(mlp(0.0).to(device), x_small, y_small, ABL_EPOCHS, SEED,
                                          max_shift=MAX_SHIFT, x_eval=x_test, y_eval=y_test)
for shift in (0, MAX_SHIFT):
    torch.manual_seed(SEED)
    ablation[("cnn", 0.0, shift)] = train(alexnet_mini(ReLU, 0.0).to(device), x_small, y_small, EPOCHS_RUN, SEED,
                                          lr=CNN_LR, max_shift=shift, x_eval=x_test, y_eval=y_test)
print(f"({time.perf_counter() - t0:.1f} s)")
print(f"{'small training set':28s} {'train':>6s} {'test':>6s} {'gap':>6s}")
for label, key in [("MLP", ("mlp", 0.0, 0)), (f"MLP + translations ±{MAX_SHIFT}", ("mlp", 0.0, MAX_SHIFT)),
                   ("CNN", ("cnn", 0.0, 0)), (f"CNN + translations ±{MAX_SHIFT}", ("cnn", 0.0, MAX_SHIFT))]:
    h = ablation[key]
    print(f"{label:28s} {h['train_acc'][-1]:6.3f} {h['test_acc'][-1]:6.3f} {final_gap(h):6.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, net, n_ep in [(axes[0], "mlp", ABL_EPOCHS), (axes[1], "cnn", EPOCHS_RUN)]:
    xs = np.arange(1, n_ep + 1)
    for shift, color in [(0, plot.COLORS[1]), (MAX_SHIFT, plot.COLORS[0])]:
        h = ablation[(net, 0.0, shift)]
        label = "no augmentation" if shift == 0 else f"translations ±{shift}"
        ax.plot(xs, h["train_acc"], "--", color=color, label=f"{label}, train")
        ax.plot(xs, h["test_acc"], "-", color=color, label=f"{label}, test")
    ax.set(title=f"{net.upper()} on 1,258 training digits", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
for ax in axes:
    ax.legend(loc="lower right", fontsize=9)
fig.tight_layout()
plt.show()
aug_gain_mlp = ablation[("mlp", 0.0, MAX_SHIFT)]["test_acc"][-1] - ablation[("mlp", 0.0, 0)]["test_acc"][-1]
aug_gain_cnn = ablation[("cnn", 0.0, MAX_SHIFT)]["test_acc"][-1] - ablation[("cnn", 0.0, 0)]["test_acc"][-1]
aug_ratio_mlp = ablation[("mlp", 0.0, MAX_SHIFT)]["test_acc"][-1] / ablation[("mlp", 0.0, 0)]["test_acc"][-1]
print(f"translations change the test accuracy of the MLP by {aug_gain_mlp:+.3f} (×{aug_ratio_mlp:.2f}), "
      f"of the CNN by {aug_gain_cnn:+.3f}")
checks.milestone("augment_gain_mlp", aug_gain_mlp, 0.20, ">=",
                 note="MLP on 1,258 digits, test accuracy with random translations minus without (0.20 = 20 points)")
record.metric("augment_gain_cnn", aug_gain_cnn)

# %% [markdown]
# Translations transform the MLP: its test accuracy roughly doubles, and the gap between train and test
# shrinks a lot, because it now sees every digit at many positions. The CNN's test accuracy changes by
# a few points at most (printed above), not always upward. Its convolutions and global max pool already make it
# almost blind to position, so shifted copies teach it little it did not know; they mostly make each
# epoch harder, which is why its training accuracy drops.
#
# Augmentation and architecture are two ways to put the same knowledge, "position does not matter",
# into a model. AlexNet used both: convolutions for small shifts, and random crops for its large fully
# connected layers. Without the crops, the paper says, the network "suffers from substantial overfitting,
# which would have forced us to use much smaller networks".
#
# ## 12. What the first layer learned
#
# AlexNet's famous figure 3 shows its 96 first-layer filters: oriented edges, stripes at several
# frequencies, and colour blobs, learned from data and never designed by hand. Here are the 16 filters
# of our trained CNN (red positive, blue negative), and what they do to one test digit.

# %%
filters = cnn[1].weight.detach().cpu()  # (16, 1, 5, 5): cnn[0] is the Standardize step
plot.image_grid(filters, titles=[f"filter {i}" for i in range(len(filters))], ncols=8, symmetric=True,
                title="First-layer filters of the trained CNN (5×5, red > 0 > blue)")
plt.show()
with torch.no_grad():
    maps = relu(cnn[1](cnn[0](x_test[:1]))).cpu()[0]  # (16, 32, 32) after conv1 + ReLU
plot.image_grid(torch.cat([x_test[:1].cpu()[0], maps]), titles=["input"] + [f"map {i}" for i in range(len(maps))],
                ncols=9, title="One test digit and the 16 feature maps of the first layer (after ReLU)")
plt.show()

# %% [markdown]
# Several filters are oriented edge detectors: positive on one side, negative on the other, at some
# angle. Their maps light up along strokes of that direction. Others respond to the noisy background
# and go dark where the digit is. Our filters are rougher than AlexNet's: 16 filters of 5×5 pixels,
# trained for seconds on blurry, enlarged 8×8 scans, against 96 filters of 11×11×3 trained for days on
# photographs.

# %% [markdown]
# ## 13. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy)
# and a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: how big is the output of a convolution?
#
# A convolution with kernel size `k`, stride `s` and zero padding `p` turns an input of width `n` into
# an output of width `floor((n + 2p - k) / s) + 1`. Write `conv_output_size`. Then use it to settle a
# famous puzzle: the paper's first layer filters a 224×224 image with 11×11 filters at stride 4, and its
# figure 2 shows 55×55 maps. Does that work without padding? (The check tells you.)

# %% tags=["exercise"]
def conv_output_size(n, k, stride=1, padding=0):
    """Width of the output of a convolution (or pooling) over an input of width n."""
    # TODO: return floor((n + 2 * padding - k) / stride) + 1 as an int
    return None

# %% tags=["solution"]
def conv_output_size(n, k, stride=1, padding=0):
    """Width of the output of a convolution (or pooling) over an input of width n."""
    return (n + 2 * padding - k) // stride + 1

# %% tags=["check"]
_cases = [(32, 5, 1, 2), (16, 3, 1, 1), (32, 3, 2, 0), (12, 5, 2, 1), (227, 11, 4, 0), (224, 11, 4, 2)]
_yours = [conv_output_size(n, k, s, p) for n, k, s, p in _cases]
_truth = [F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1] for n, k, s, p in _cases]
checks.check(all(isinstance(v, int) and not isinstance(v, bool) for v in _yours),
             f"conv_output_size should return whole numbers (int); it returned {_yours}"
             + (" (None: the TODO is not done yet)." if None in _yours else "."),
             ok_message="conv_output_size returns ints.",
             hint="Use integer division // so the result is an int (math.floor of a float would work too, wrapped in int()).")
checks.check_close(_yours, _truth, "conv_output_size on 6 cases",
                   hint="Integer division: (n + 2*padding - k) // stride + 1. The cases are (n, k, stride, padding) = "
                        + ", ".join(map(str, _cases)))
print(f"224 input, no padding: {conv_output_size(224, 11, 4)} (not 55!); 227 input: {conv_output_size(227, 11, 4)}; "
      f"224 with padding 2 (torchvision's choice): {conv_output_size(224, 11, 4, 2)}")

# %% [markdown]
# So the paper's numbers only add up for a 227×227 input, or with padding. Implementations chose
# differently: Caffe's AlexNet cropped 227×227 images, torchvision's pads by 2. When a paper and its
# code disagree, the code is what was actually run.
#
# ### Exercise 2: overlapping max pooling, from scratch
#
# AlexNet pooled with 3×3 windows at stride 2, so neighbouring windows overlap; the paper reports this
# cut the top-1 error by 0.4 points compared with 2×2 windows at stride 2. Write `max_pool2d(x, k, stride)`
# for input `(N, C, H, W)` without padding, the same way as `conv2d_unfold`: take sliding windows with
# `Tensor.unfold`, then the maximum over each window.

# %% tags=["exercise"]
def max_pool2d(x, k, stride):
    """Max over every k×k window of x (N, C, H, W), windows `stride` apart, no padding."""
    # TODO: windows = x.unfold(2, k, stride).unfold(3, k, stride)  -> (N, C, H_out, W_out, k, k)
    #       then take the max over the last two dimensions
    return None

# %% tags=["solution"]
def max_pool2d(x, k, stride):
    """Max over every k×k window of x (N, C, H, W), windows `stride` apart, no padding."""
    windows = x.unfold(2, k, stride).unfold(3, k, stride)
    return windows.amax(dim=(-2, -1))

# %% tags=["check"]
_x = torch.randn(2, 3, 13, 13, generator=torch.Generator().manual_seed(1))
for _k, _s in [(2, 2), (3, 2)]:
    _ours = max_pool2d(_x, _k, _s)
    _ref = F.max_pool2d(_x, _k, _s)
    checks.check_shape(_ours, tuple(_ref.shape), f"max_pool2d(k={_k}, stride={_s})",
                       hint="unfold twice (dims 2 and 3) gives (N, C, H_out, W_out, k, k); reduce the last two dims.")
    checks.check_close(_ours, _ref, f"max_pool2d(k={_k}, stride={_s}) values",
                       hint="Take the maximum over the window dimensions (-2, -1), e.g. with .amax(dim=(-2, -1)).")

# %% [markdown]
# ### Exercise 3: dropout the way the 2012 paper did it
#
# The 2012 papers did not rescale during training. They dropped units with probability `p` while
# training and, at test time, kept every unit but multiplied its output by `1 - p` ("halve the outgoing
# weights" for p=0.5). Write `dropout_2012(x, p, training, generator)`. The check verifies that the
# test-time output equals the *average* training-time output, which is the whole point of the scaling.

# %% tags=["exercise"]
def dropout_2012(x, p, training, generator=None):
    """Non-inverted dropout: drop with probability p in training (no rescaling); scale by 1-p at test time."""
    # TODO: in training, return x times a 0/1 mask that keeps each value with probability 1 - p
    #       (torch.rand(x.shape, generator=generator) < 1 - p); at test time, return x * (1 - p)
    return None

# %% tags=["solution"]
def dropout_2012(x, p, training, generator=None):
    """Non-inverted dropout: drop with probability p in training (no rescaling); scale by 1-p at test time."""
    if training:
        return x * (torch.rand(x.shape, generator=generator) < 1 - p).to(x.dtype)
    return x * (1 - p)

# %% tags=["check"]
_g = torch.Generator().manual_seed(0)
_x = torch.linspace(-2, 2, 50)
_train_out = dropout_2012(_x, 0.5, True, _g)
checks.check(_train_out is not None, "dropout_2012 returned None: the TODO is not done yet.",
             ok_message="dropout_2012 returns a tensor.", hint="Return x times a mask in training, x * (1 - p) at test time.")
checks.check(set(torch.unique(_train_out / torch.where(_x == 0, 1.0, _x)).tolist()) <= {0.0, 1.0},
             "In training mode every value should be either dropped (0) or kept unchanged (no rescaling).",
             ok_message="Training mode keeps values unchanged or drops them.",
             hint="Multiply x by a 0/1 mask; do not divide by (1 - p): that is the inverted (modern) variant.")
_avg = torch.stack([dropout_2012(_x, 0.5, True, _g) for _ in range(4000)]).mean(0)
checks.check_close(dropout_2012(_x, 0.5, False), _avg, "test-time output vs average training output", atol=0.06, rtol=0,
                   hint="At test time return x * (1 - p): the expected value of a unit kept with probability 1 - p.")

# %% [markdown]
# Both variants agree in expectation; the inverted one moves the scaling into training, so the deployed
# network needs no special case. That is why `nn.Dropout` is inverted.
#
# ## Going further
#
# * **The original code.** Krizhevsky's [cuda-convnet](https://code.google.com/archive/p/cuda-convnet/)
#   (2011–2012), the code AlexNet was trained with, and its successor
#   [cuda-convnet2](https://github.com/akrizhevsky/cuda-convnet2) (2014). Their layer definition files
#   (e.g. `layers/layers-imagenet-1gpu.cfg`) are the real specification of the networks.
# * **A reference implementation.** [`torchvision.models.alexnet`](https://github.com/pytorch/vision/blob/main/torchvision/models/alexnet.py)
#   (a single-GPU variant from Krizhevsky's "One weird trick for parallelizing convolutional neural
#   networks", [arXiv:1404.5997](https://arxiv.org/abs/1404.5997)), with ImageNet weights. Compare its
#   `features` and `classifier` with our `alexnet_mini`.
# * **Follow-ups.** Zeiler & Fergus, *Visualizing and Understanding Convolutional Networks* (ZFNet, 2013,
#   [arXiv:1311.2901](https://arxiv.org/abs/1311.2901)): looks inside AlexNet and fixes its first layers.
#   Simonyan & Zisserman, *Very Deep Convolutional Networks for Large-Scale Image Recognition* (VGG, 2014,
#   [arXiv:1409.1556](https://arxiv.org/abs/1409.1556)): only 3×3 convolutions, much deeper, no LRN.
#   Lin, Chen & Yan, *Network In Network* (2013, [arXiv:1312.4400](https://arxiv.org/abs/1312.4400)):
#   global pooling instead of big fully connected layers, as our small net does.
# * **Dropout, the full story.** Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov, *Dropout: A
#   Simple Way to Prevent Neural Networks from Overfitting*, JMLR 15, 2014
#   ([jmlr.org/papers/v15/srivastava14a](https://jmlr.org/papers/v15/srivastava14a.html)).
# * **Try it bigger.** Run this lesson with more epochs or seeds, e.g.
#   `papermill lessons/01_2012_alexnet.ipynb out.ipynb -p EPOCHS 20 -p N_SEEDS 9`, or on a GPU
#   (`DEVICE="auto"` picks it up). Next lesson: **02, Adam (2014)**, a better optimiser than the SGD used here.
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["cnn_test_acc", "cnn_minus_mlp", "relu_error_gap", "dropout_gain",
                                                "augment_gain_mlp"])
