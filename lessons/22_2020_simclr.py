# ---
# jupyter:
#   course:
#     idea: two augmented views of each image; the NT-Xent loss written out and checked
#       against a loop and against cross-entropy; a projection head; the linear-probe
#       protocol checked against scikit-learn; SimCLR features against raw pixels, a random
#       encoder and a supervised model on 10 % of the labels; which augmentation matters
#     number: '22'
#     papers:
#     - arxiv: '2002.05709'
#       authors: Ting Chen, Simon Kornblith, Mohammad Norouzi, Geoffrey Hinton
#       title: A Simple Framework for Contrastive Learning of Visual Representations
#       year: 2020
#     - arxiv: '1911.05722'
#       authors: Kaiming He, Haoqi Fan, Yuxin Wu, Saining Xie, Ross Girshick
#       title: Momentum Contrast for Unsupervised Visual Representation Learning
#       year: 2019
#     - arxiv: '2006.07733'
#       authors: Jean-Bastien Grill, Florian Strub, Florent Altché, Corentin Tallec, Pierre
#         H. Richemond, Elena Buchatskaya, Carl Doersch, Bernardo Avila Pires, Zhaohan Daniel
#         Guo, Mohammad Gheshlaghi Azar, Bilal Piot, Koray Kavukcuoglu, Rémi Munos, Michal
#         Valko
#       title: 'Bootstrap your own latent: A new approach to self-supervised Learning'
#       year: 2020
#     title: 'Self-supervised learning: SimCLR'
#     track: beyond
#     year: '2020'
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
# # 22 · 2020 · Self-supervised learning: SimCLR
#
# **Papers**
#
# * Ting Chen, Simon Kornblith, Mohammad Norouzi, Geoffrey Hinton (2020). *A Simple Framework for Contrastive
#   Learning of Visual Representations* (SimCLR). ICML 2020. [arXiv:2002.05709](https://arxiv.org/abs/2002.05709)
# * Kaiming He, Haoqi Fan, Yuxin Wu, Saining Xie, Ross Girshick (2019). *Momentum Contrast for Unsupervised
#   Visual Representation Learning* (MoCo). CVPR 2020. [arXiv:1911.05722](https://arxiv.org/abs/1911.05722)
# * Jean-Bastien Grill, Florian Strub, Florent Altché, Corentin Tallec, Pierre H. Richemond, et al. (2020).
#   *Bootstrap your own latent: A new approach to self-supervised Learning* (BYOL). NeurIPS 2020.
#   [arXiv:2006.07733](https://arxiv.org/abs/2006.07733)
#
# ## The problem before this paper
#
# Every vision lesson so far learned from labels. Labels are expensive; unlabelled images are nearly free.
# Lesson 11 showed the way out for text: **pretrain** on raw text with a task that needs no labels, then
# reuse the network. For images, the tasks people invented by hand (predict an image's rotation, solve a
# jigsaw of its patches, colour a grey image) gave features that were useful but clearly worse than
# supervised ones: a linear classifier on them stayed far behind a supervised ResNet-50 on ImageNet.
# Contrastive methods (contrastive predictive coding and instance discrimination in 2018, MoCo in 2019,
# below) had begun to narrow the gap, with memory banks, queues or specialised architectures.
#
# ## The key idea
#
# Take an image, make two random **views** of it (crop, flip, colour distortion, blur), and train a network
# so that the two views land close together in its embedding space and far from the views of every other
# image in the batch. No label is used: "these two views come from the same image" is the only supervision.
# SimCLR showed that four simple ingredients, none of them new on its own, close most of the gap:
#
# * **Strong, composed data augmentation.** Random cropping *plus* colour distortion was far better than
#   either alone, as the paper's ablation over pairs of augmentations shows.
# * **A contrastive loss**, NT-Xent (normalized temperature-scaled cross-entropy): with a batch of N images
#   and so 2N views, each view must pick out its partner among the 2N − 1 others, a (2N − 1)-way softmax
#   over cosine similarities divided by a **temperature** τ.
# * **A projection head**: a small MLP g maps the encoder's representation h to the z the loss sees. The loss
#   is computed on z, but h, the layer *before* the head, is what you keep.
# * **Large batches and long training**: batches of 256 to 8,192 images (4,096 for most results, so 8,190
#   negatives per view), hundreds of epochs, 32 to 128 TPU v3 cores.
#
# The yardstick is the **linear probe** (linear evaluation protocol): freeze the encoder, train only a linear
# classifier on its features with labels, and report test accuracy. A linear classifier on SimCLR's
# ResNet-50 (4×) features reached 76.5 % top-1 on ImageNet, the accuracy of a supervised ResNet-50; fine-tuned
# with 1 % of the labels, it reached 85.8 % top-5, better than AlexNet (lesson 01) trained with all of them.
#
# ## What changed after
#
# Contrastive and related self-supervised methods became the standard way to pretrain vision encoders.
# **MoCo** (He et al., 2019, a few months before SimCLR) had shown how to do without huge batches: it keeps
# the negatives in a **queue** of past embeddings, produced by a **momentum encoder** whose weights are a
# slow moving average of the trained encoder; MoCo v2 (2020) then took SimCLR's projection head and stronger
# augmentations and matched it with ordinary batches. **BYOL** (Grill et al., 2020) then dropped
# negatives altogether: an online network, with an extra predictor, learns to predict a moving-average target
# network's projection of the other view. The same recipe (two views, a similarity objective, a frozen-feature
# evaluation) carries over to CLIP's image–text pairs (2021) and to today's vision foundation models.
#
# ## What we do here, and what scale changes
#
# 1. The data: handwritten digits at random places and ink intensities on a noisy 24×24 canvas, where raw
#    pixels are a poor representation; most of them unlabelled.
# 2. The augmentations, in plain torch: an affine warp, a brightness change, added noise.
# 3. The encoder and the projection head.
# 4. NT-Xent, written out and checked against a loop over every view and against `F.cross_entropy`.
# 5. The linear probe, written out and checked against scikit-learn's `LogisticRegression`.
# 6. SimCLR training, then **the reproduction**: a linear probe with 10 % of the labels on SimCLR features,
#    against the same probe on raw pixels and on a randomly initialised encoder, and against a supervised
#    model trained on the same labels; features before and after the projection head.
# 7. The paper's augmentation ablation, at small scale: which augmentation matters most.
# 8. A picture of the embeddings, and a slider for augmentation strength.
#
# SimCLR trains a ResNet-50 on 1.28 million images for hundreds of epochs; we train a 4-layer network on
# 2,396 images for a few hundred steps on one CPU thread (section 6 prints how long that took). The
# mechanism is the same; how far it gets is not (see "What small scale changes").

# %% [markdown]
# ## 中文导读
#
# 有标签的数据很贵，没有标签的图像几乎免费。**自监督学习**从无标签数据中构造训练任务。SimCLR（Chen、Kornblith、Norouzi、Hinton，2020）
# 的做法是**对比学习**：把每张图像做两次随机**数据增强**（裁剪、颜色扰动等），得到两个**视图**（view）；训练编码器，使同一图像的两个视图
# 在嵌入空间里彼此接近，而与批次中其他图像的视图远离。损失函数是 **NT-Xent**（归一化温度缩放交叉熵）：对 2N 个视图中的每一个，
# 在其余 2N − 1 个视图中认出它的"正样本对"，相似度用**余弦相似度**除以**温度** τ。编码器之后接一个小的**投影头**（MLP），损失在
# 投影头的输出上计算，但下游任务使用投影头之前的表示。评价方法是**线性探测**：冻结编码器，只用标签训练一个线性分类器。
# SimCLR 在 ImageNet 上用线性探测达到了有监督 ResNet-50 的水平。MoCo 用**动量编码器**和负样本队列代替大批次；BYOL 完全不用负样本。
#
# 本课的数据是放在 24×24 噪声画布上随机位置、随机亮度的手写数字（按原始图像划分训练集与测试集），在这里原始像素是很差的表示。我们用
# 纯 torch 写出数据增强（仿射变换、亮度、噪声）、编码器、投影头和 NT-Xent 损失（与逐个视图的循环计算以及 `F.cross_entropy` 核对），
# 写出线性探测（与 scikit-learn 的 `LogisticRegression` 核对）。里程碑：只用 10 % 的标签，SimCLR 特征上的线性探测测试准确率至少 50 %，
# 并且比同样的探测在原始像素上和在随机初始化的编码器上都高至少 25 个百分点。我们也如实报告：在同样 10 % 的标签上直接做有监督训练的
# 模型仍然更好，这是小规模自监督学习的真实情况。我们还复现论文的增强消融实验：去掉哪一种增强损失最大（在我们运行的五个种子上都是几何变换，它相当于论文中的随机裁剪）；并画出嵌入的主成分分析（PCA）图，
# 提供一个增强强度的滑块控件和三个练习（k 近邻评价、MoCo/BYOL 的动量更新、对齐性与均匀性）。
#
# 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)。

# %%
# Imports. The course's plumbing (data, plots, checks) lives in the `course_utils` package of this repository;
# every idea of the lesson is written out in the cells below.
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

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): initialisation, batches and augmentations (the data split is fixed)
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: a few steps of everything; every code path in seconds; milestones reported, not asserted
STEPS = 300  # SimCLR training steps, from 10 to 20000
BATCH = 128  # images per SimCLR step (so twice as many views), from 8 to 1024
TAU = 0.2  # NT-Xent temperature, from 0.01 to 10
LR = 2e-3  # Adam learning rate (SimCLR and the supervised model), from 1e-5 to 1e-1
WIDTH = 16  # channels of the encoder's first layer (then 2x, 2x, 4x), from 4 to 128
PROJ_DIM = 32  # size of the projection head's output z, from 2 to 512
AUG_STRENGTH = 1.0  # multiplies every augmentation's range during SimCLR training, from 0 to 3
LABEL_FRACTION = 0.1  # share of the training images whose labels the probe and the supervised model see, from 0.02 to 1
SUPERVISED_STEPS = 300  # steps of the supervised model on the labelled images, from 10 to 20000
ABLATION_STEPS = 120  # SimCLR steps of each augmentation-ablation run (at most STEPS), from 10 to 20000

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=10, max=20000),
    BATCH=params.Int(min=8, max=1024),
    TAU=params.Float(min=0.01, max=10.0),
    LR=params.Float(min=1e-5, max=1e-1),
    WIDTH=params.Int(min=4, max=128),
    PROJ_DIM=params.Int(min=2, max=512),
    AUG_STRENGTH=params.Float(min=0.0, max=3.0),
    LABEL_FRACTION=params.Float(min=0.02, max=1.0),
    SUPERVISED_STEPS=params.Int(min=10, max=20000),
    ABLATION_STEPS=params.Int(min=10, max=20000),
)
TAU, LR, AUG_STRENGTH, LABEL_FRACTION = P["TAU"], P["LR"], P["AUG_STRENGTH"], P["LABEL_FRACTION"]  # int -> float
if ABLATION_STEPS > STEPS:
    raise params.ParameterError(f"ABLATION_STEPS={ABLATION_STEPS} is not allowed: it must be at most STEPS ({STEPS}), "
                                "because the full-augmentation point of the ablation is read from the main run")
if SMOKE:  # every code path, in seconds
    STEPS, SUPERVISED_STEPS, ABLATION_STEPS = 12, 10, 6
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("22")
plt.show()

# %% [markdown]
# ## 1. Data where raw pixels are a poor representation
#
# On scikit-learn's 1,797 digits at their native 8×8 pixels, a linear classifier on the raw pixels is
# already good (section 5 prints it), so there is little for a learned representation to add. We make the
# task one where **where** the digit is, and how bright it is, vary while **what** it is does not: each 8×8
# digit is enlarged to 16×16, scaled by a random ink intensity between 0.5 and 1, pasted at a random
# position on a 24×24 canvas, and covered with Gaussian noise. A linear classifier on pixels then has to
# learn every digit at every position; a translation-invariant feature does not.
#
# The split is made by **source image** before placement (no handwriting is in both train and test) and is
# the same for every `SEED`: one third of each class is held out. Each source digit is placed twice, at
# two random positions, so there are 2,396 training images and 1,198 test images (one test image moves an
# accuracy by less than 0.1 point). SimCLR sees the training images without labels; the linear probe and the
# supervised model see the labels of `LABEL_FRACTION` of them (10 %, chosen stratified by class).

# %%
t_section = time.perf_counter()
CANVAS, DIGIT, NOISE_STD = 24, 16, 0.15
images8, labels8 = data.load_digits()  # (1797, 1, 8, 8) in [0, 1]
split_rng = np.random.default_rng(2020)  # the split and the placements do not depend on SEED
train_src, test_src = [], []
for c in range(10):
    idx = np.flatnonzero(labels8.numpy() == c)
    split_rng.shuffle(idx)
    k = round(len(idx) / 3)
    test_src += list(idx[:k])
    train_src += list(idx[k:])
train_src, test_src = np.sort(train_src), np.sort(test_src)
digits16 = F.interpolate(images8, size=(DIGIT, DIGIT), mode="bilinear", align_corners=False).clamp(0, 1)


def place_on_canvas(src, rng):
    """Paste digits16[src] at random positions with random ink intensity on a noisy CANVAS×CANVAS canvas."""
    n = len(src)
    out = torch.zeros(n, 1, CANVAS, CANVAS)
    rows, cols = rng.integers(0, CANVAS - DIGIT + 1, n), rng.integers(0, CANVAS - DIGIT + 1, n)
    ink = rng.uniform(0.5, 1.0, n)
    for i in range(n):
        out[i, 0, rows[i]:rows[i] + DIGIT, cols[i]:cols[i] + DIGIT] = digits16[src[i], 0] * float(ink[i])
    out += torch.from_numpy(rng.normal(0.0, NOISE_STD, out.shape).astype(np.float32))
    return out.clamp(0, 1)


src_unlab, src_test = np.tile(train_src, 2), np.tile(test_src, 2)  # every source digit placed twice
x_unlab, y_unlab = place_on_canvas(src_unlab, split_rng), labels8[src_unlab]  # y_unlab: only for the labelled few
x_test, y_test = place_on_canvas(src_test, split_rng), labels8[src_test]
labelled = np.sort(np.concatenate([split_rng.permutation(np.flatnonzero(y_unlab.numpy() == c))
                                   [:round(LABEL_FRACTION * int((y_unlab == c).sum()))] for c in range(10)]))
x_lab, y_lab = x_unlab[labelled], y_unlab[labelled]
print(f"{len(x_unlab)} unlabelled training images, {len(x_lab)} of them labelled ({len(x_lab) / len(x_unlab):.1%}), "
      f"{len(x_test)} test images; {CANVAS}×{CANVAS} pixels")
print(f"labelled images per class: {np.bincount(y_lab.numpy(), minlength=10).tolist()}")
checks.check(not set(train_src) & set(test_src), "a source digit is in both train and test",
             ok_message="no source digit is in both the training and the test images.")
plot.image_grid(x_unlab[:16], ncols=8, titles=[f"label {int(v)}" for v in y_unlab[:16]],
                title="Training images: a 16×16 digit at a random place and intensity on a noisy 24×24 canvas")
plt.show()
SECTION_SECONDS["1. Data"] = time.perf_counter() - t_section

# %% [markdown]
# ## 2. The augmentations
#
# SimCLR's views come from a random crop (resized back to full size) with a random flip, a strong colour
# distortion and, on ImageNet, a Gaussian blur. Our images are grey and small, so we use their closest
# counterparts, all in plain torch on whole batches:
#
# * **geometric**: a random affine warp, a rotation of up to ±15°, a zoom of up to ±15 % and a shift of up
#   to ±4 pixels in each direction (the crop-and-resize of the paper is also a zoom and a shift);
#   `F.affine_grid` turns the 2×3 matrices into sampling grids and `F.grid_sample` reads the pixels;
# * **brightness**: every image multiplied by a random factor in [0.6, 1.4] (the grey-level part of the
#   paper's colour distortion);
# * **noise**: Gaussian noise of standard deviation 0.1 added to every pixel.
#
# A `strength` multiplies every range (0 gives back the image unchanged), and three switches drop one kind,
# for the ablation of section 7. Flips are left out: a mirrored 2 is not a 2.

# %%
MAX_ROTATION, MAX_ZOOM, MAX_SHIFT, MAX_BRIGHTNESS, AUG_NOISE = math.radians(15), 0.15, 4 / CANVAS * 2, 0.4, 0.1


def augment(x, gen, strength=1.0, geometric=True, brightness=True, noise=True):
    """One random view of every image in x (N, 1, H, W); gen is a torch.Generator (on the CPU)."""
    n = len(x)

    def uniform(scale):  # N values uniform in [-scale, scale]
        return (2 * torch.rand(n, generator=gen) - 1) * scale * strength

    out = x
    if geometric:
        angle, zoom = uniform(MAX_ROTATION), 1 + uniform(MAX_ZOOM)
        shift_x, shift_y = uniform(MAX_SHIFT), uniform(MAX_SHIFT)  # in affine_grid units: the canvas spans [-1, 1]
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # the output pixel (u, v) reads input A·(u, v) + t
        theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
        grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
        out = F.grid_sample(out, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if brightness:
        out = out * (1 + uniform(MAX_BRIGHTNESS)).view(n, 1, 1, 1).to(x)
    if noise:
        out = out + torch.randn(out.shape, generator=gen).to(x) * AUG_NOISE * strength
    return out


gen_demo = torch.Generator().manual_seed(SEED)
checks.check_close(augment(x_unlab[:64], gen_demo, strength=0.0), x_unlab[:64], "augment(x, strength=0) vs x",
                   atol=1e-5, hint="with strength 0 the warp is the identity and the noise is zero")
shifted = augment(x_unlab[:1], gen_demo, geometric=False, brightness=False, noise=False)
checks.check(torch.equal(shifted, x_unlab[:1]), "with every augmentation switched off the image must come back as is",
             ok_message="with every augmentation switched off, the image comes back unchanged.")
# A known warp: a pure shift of +2 pixels to the right moves the content by exactly 2 columns.
_theta = torch.tensor([[[1.0, 0.0, -2 / CANVAS * 2], [0.0, 1.0, 0.0]]])
_moved = F.grid_sample(x_unlab[:1], F.affine_grid(_theta, [1, 1, CANVAS, CANVAS], align_corners=False),
                       align_corners=False)
checks.check_close(_moved[..., 2:], x_unlab[:1, :, :, :-2], "affine shift by 2 pixels vs slicing", atol=1e-5,
                   hint="affine_grid's translation is in units of half the canvas")

views_a, views_b = augment(x_unlab[:8], gen_demo), augment(x_unlab[:8], gen_demo)
plot.image_grid(torch.cat([x_unlab[:8], views_a, views_b]).clamp(0, 1), ncols=8,
                title="Top: 8 training images. Middle and bottom: two random views of each (a positive pair)")
plt.show()

# %% [markdown]
# ## 3. The encoder f and the projection head g
#
# The encoder f is a small convolutional network: four 3×3 convolutions, each followed by BatchNorm and
# ReLU, with max-pooling between them, and a **global average pool** at the end: its representation h has
# one number per channel, averaged over the whole canvas, so it changes little when the digit moves. The projection head g is the paper's choice, an MLP with
# one hidden layer: z = W₂ ReLU(W₁ h). The loss sees z; the probe, later, sees h.

# %%
class Encoder(nn.Module):
    """f: image (N, 1, 24, 24) -> representation h (N, 4·width)."""

    def __init__(self, width=WIDTH):
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.net = nn.Sequential(*block(1, width), nn.MaxPool2d(2), *block(width, 2 * width), nn.MaxPool2d(2),
                                 *block(2 * width, 2 * width), nn.MaxPool2d(2), *block(2 * width, 4 * width),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dim = 4 * width

    def forward(self, x):
        return self.net(x)


def projection_head(dim_in, dim_out=PROJ_DIM):
    """g: h -> z, an MLP with one hidden layer of the same width as h."""
    return nn.Sequential(nn.Linear(dim_in, dim_in), nn.ReLU(), nn.Linear(dim_in, dim_out))


_f = Encoder()
_g = projection_head(_f.dim)
checks.check_shape(_f(x_unlab[:5]), (5, 4 * WIDTH), "h = f(x)")
checks.check_shape(_g(_f(x_unlab[:5])), (5, PROJ_DIM), "z = g(h)")
print(f"encoder f: {sum(p.numel() for p in _f.parameters()):,} parameters; "
      f"head g: {sum(p.numel() for p in _g.parameters()):,}")

# %% [markdown]
# ## 4. The NT-Xent loss
#
# A batch of N images gives 2N views; call their projections z₁ … z₂N, arranged so that views k and k + N
# come from the same image. With the cosine similarity sim(u, v) = uᵀv / (‖u‖ ‖v‖), the loss of view i,
# whose partner is j, is
#
# $$\ell_{i} = -\log \frac{\exp(\mathrm{sim}(z_i, z_j)/\tau)}{\sum_{k \ne i} \exp(\mathrm{sim}(z_i, z_k)/\tau)},$$
#
# a softmax over the 2N − 1 other views with the partner as the correct class, and the loss is the mean of
# ℓᵢ over all 2N views (each pair counted in both directions). Everything else in the batch serves as a
# **negative**: no negatives have to be sampled. The temperature τ sets how sharply the softmax focuses on the
# hardest negatives (the most similar other views). The paper found that τ has to be tuned, and that
# normalizing the embeddings (cosine similarity rather than a raw dot product) gave better representations.
#
# Our batched version normalizes every z, forms the (2N × 2N) matrix of similarities, removes each view's
# similarity with itself by setting it to −∞, and takes a log-softmax row by row.

# %%
def nt_xent(z1, z2, tau):
    """NT-Xent loss of a batch of positive pairs (z1[k], z2[k]); z1, z2 of shape (N, d)."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # 2N unit vectors: cosine similarity is a dot product
    logits = z @ z.T / tau  # (2N, 2N)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # a view is not its own candidate
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    log_prob_partner = logits[torch.arange(2 * n), partner] - torch.logsumexp(logits, dim=1)
    return -log_prob_partner.mean()


def nt_xent_loop(z1, z2, tau):
    """The same loss, one view and one candidate at a time, straight from the formula."""
    views = list(z1) + list(z2)
    n2 = len(views)
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2  # the partner of view i
        sims = [float(views[i] @ views[k] / (views[i].norm() * views[k].norm())) for k in range(n2)]
        numerator = math.exp(sims[j] / tau)
        denominator = sum(math.exp(sims[k] / tau) for k in range(n2) if k != i)
        total += -math.log(numerator / denominator)
    return total / n2


gen_test = torch.Generator().manual_seed(SEED)
diffs, diffs_ce = [], []
for n, d, tau in [(4, 3, 1.0), (8, 5, 0.5), (16, 8, 0.2), (12, 32, 0.1)]:
    z1 = torch.randn(n, d, generator=gen_test, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(n, d, generator=gen_test, dtype=torch.float64)  # partners roughly aligned
    ours = nt_xent(z1, z2, tau).item()
    diffs.append(abs(ours - nt_xent_loop(z1, z2, tau)))
    # The same loss as a (2N)-class cross-entropy: the targets are the partners' indices.
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    diffs_ce.append(abs(ours - F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)])).item()))
nt_xent_max_diff = max(diffs)
print(f"NT-Xent vs the loop, float64, 4 cases: max |difference| {nt_xent_max_diff:.1e}; "
      f"vs F.cross_entropy on the same logits: {max(diffs_ce):.1e}")
checks.milestone("nt_xent_max_diff", nt_xent_max_diff, 1e-9, "<=",
                 note="batched NT-Xent vs a loop over every view and candidate, float64, 4 random cases")
record.metric("nt_xent_vs_cross_entropy_max_diff", max(diffs_ce))
# Two sanity values: all views identical gives log(2N - 1) (chance), and near-perfect pairs give a loss near 0.
_same = torch.ones(8, 4, dtype=torch.float64)
checks.check_close(nt_xent(_same, _same, 0.5).item(), math.log(15), "NT-Xent when every view is the same (chance)")
_eye = torch.eye(8, dtype=torch.float64)
print(f"8 orthogonal pairs at τ = 0.05: loss {nt_xent(_eye, _eye, 0.05).item():.1e} (perfect pairs, far negatives)")

# %% [markdown]
# ## 5. The linear probe
#
# The **linear evaluation protocol**: freeze the encoder, compute the features of the labelled images,
# standardize each feature with the labelled set's mean and standard deviation, and fit a multinomial
# logistic regression (a softmax classifier, no hidden layer) that minimizes
#
# $$\frac{1}{n}\sum_{i=1}^{n} \mathrm{CE}(W x_i + b,\, y_i) + \frac{\lambda}{2}\lVert W\rVert^2 ,$$
#
# then report its accuracy on the test images. The classifier is linear on purpose: it measures what the
# features already make easy, not what a new network could learn on top of them. We fit it to convergence
# with L-BFGS in float64 and use the same λ for every representation. scikit-learn's `LogisticRegression`
# minimizes ½‖W‖² + C Σᵢ CE, the same problem when C = 1/(λn): its fitted probabilities must equal ours.

# %%
PROBE_L2 = 1e-2  # λ, the same for every representation


def fit_probe(feats, labels, l2=PROBE_L2, n_classes=10):
    """Linear probe: standardize, then multinomial logistic regression with an L2 penalty, fitted by L-BFGS."""
    feats = feats.detach().cpu().double()
    mean, std = feats.mean(0), feats.std(0, unbiased=False) + 1e-8
    x = (feats - mean) / std
    w = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=1000, history_size=20, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")
    y = labels.cpu()

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, y) + 0.5 * l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {"mean": mean, "std": std, "w": w.detach(), "b": b.detach()}


def probe_probs(probe, feats):
    x = (feats.detach().cpu().double() - probe["mean"]) / probe["std"]
    return torch.softmax(x @ probe["w"] + probe["b"], dim=1)


def probe_accuracy(feats_train, y_train, feats_test, y_test, l2=PROBE_L2):
    probe = fit_probe(feats_train, y_train, l2)
    return (probe_probs(probe, feats_test).argmax(1) == y_test.cpu()).double().mean().item()


# Check against scikit-learn on raw pixels of the labelled images (576 features, more than there are images).
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

_probe = fit_probe(x_lab.flatten(1), y_lab)
_scaler = StandardScaler().fit(x_lab.flatten(1).double().numpy())
_sk = LogisticRegression(C=1 / (PROBE_L2 * len(x_lab)), max_iter=5000, tol=1e-10).fit(
    _scaler.transform(x_lab.flatten(1).double().numpy()), y_lab.numpy())
_sk_probs = _sk.predict_proba(_scaler.transform(x_test.flatten(1).double().numpy()))
probe_vs_sklearn = (probe_probs(_probe, x_test.flatten(1)).numpy() - _sk_probs).__abs__().max()
print(f"our probe vs scikit-learn's LogisticRegression on the same features: max |Δ probability| over "
      f"{len(x_test)} test images × 10 classes: {probe_vs_sklearn:.1e}")
checks.check(probe_vs_sklearn < 1e-3, f"the probe differs from scikit-learn by {probe_vs_sklearn:.1e}",
             ok_message="our linear probe and scikit-learn's fit the same classifier.")
record.metric("probe_vs_sklearn_max_prob_diff", probe_vs_sklearn)

# Why the canvas: the same probe, same 10 % of labels, on the raw 8×8 digits themselves.
_lab8 = train_src[np.sort(split_rng.permutation(len(train_src))[:round(LABEL_FRACTION * len(train_src))])]
acc_pixels_8x8 = probe_accuracy(images8[_lab8].flatten(1), labels8[_lab8], images8[test_src].flatten(1),
                                labels8[test_src])
print(f"linear probe on raw pixels of the plain 8×8 digits ({len(_lab8)} labels): {acc_pixels_8x8:.1%} test accuracy")
record.metric("probe_raw_8x8_digits", acc_pixels_8x8)

# %% [markdown]
# On the plain 8×8 digits, raw pixels are already a good representation (printed above): the digits are
# centred and scaled, so each pixel means the same thing in every image. On our canvas they are not, as the
# next sections show.
#
# ## 6. SimCLR training
#
# One step: draw `BATCH` unlabelled images, make two views of each, pass all 2·`BATCH` views through f and g
# in one batch, compute NT-Xent on the projections, and take an Adam step on f and g together. No label is
# read. Six times during training (every 50 steps by default), and at step `ABLATION_STEPS` for section 7, we
# switch f to evaluation mode and run the linear probe on its features, to watch the representation improve
# as the loss falls (the probe's labels never reach SimCLR's training).

# %%
def features(model, x, batch=512):
    """Representations of x by a frozen model (evaluation mode: BatchNorm uses its running statistics)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x[i:i + batch].to(device)).cpu() for i in range(0, len(x), batch)])
    model.train(was_training)
    return out


def probe_encoder(f):
    return probe_accuracy(features(f, x_lab), y_lab, features(f, x_test), y_test)


def train_simclr(steps, seed, probe_at=(), **aug_switches):
    """SimCLR on x_unlab; returns f, g, the loss of every step and {step: probe accuracy} at the steps in probe_at."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    f = Encoder().to(device)
    g = projection_head(f.dim).to(device)
    opt = torch.optim.Adam([*f.parameters(), *g.parameters()], lr=LR)
    losses, probes = [], {}
    for step in range(steps + 1):
        if step in probe_at:
            probes[step] = probe_encoder(f)
        if step == steps:
            break
        batch = x_unlab[torch.randint(0, len(x_unlab), (BATCH,), generator=gen)]
        view1 = augment(batch, gen, AUG_STRENGTH, **aug_switches)
        view2 = augment(batch, gen, AUG_STRENGTH, **aug_switches)
        z = g(f(torch.cat([view1, view2]).to(device)))  # both views in one batch, as in the paper
        loss = nt_xent(z[:BATCH], z[BATCH:], TAU)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return f, g, losses, probes


t_section = time.perf_counter()
cpu_start = time.process_time()
probe_steps = sorted({*range(0, STEPS + 1, max(STEPS // 6, 1)), ABLATION_STEPS, STEPS})
f_simclr, g_simclr, simclr_losses, simclr_probes = train_simclr(STEPS, SEED, probe_at=probe_steps)
simclr_seconds, simclr_cpu = time.perf_counter() - t_section, time.process_time() - cpu_start
print(f"SimCLR: {STEPS} steps of {BATCH} images ({2 * BATCH} views) in {simclr_seconds:.0f} s "
      f"({simclr_cpu:.0f} CPU-s, probes included); NT-Xent {simclr_losses[0]:.2f} -> "
      f"{np.mean(simclr_losses[-20:]):.2f} (chance: log(2N − 1) = {math.log(2 * BATCH - 1):.2f})")
print("linear probe on h during training: " + ", ".join(f"step {s}: {a:.1%}" for s, a in simclr_probes.items()))
record.metric("simclr_seconds", simclr_seconds, unit="s")
record.metric("simclr_final_loss", float(np.mean(simclr_losses[-20:])))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
ax1.plot(simclr_losses, color=plot.COLORS[0], alpha=0.35, label="each step")
_smooth = np.convolve(simclr_losses, np.ones(10) / 10, mode="valid")
ax1.plot(np.arange(9, len(simclr_losses)), _smooth, color=plot.COLORS[0], label="mean of 10 steps")
ax1.axhline(math.log(2 * BATCH - 1), color="grey", ls="--", label="chance, log(2N − 1)")
ax1.set(xlabel="step", ylabel="NT-Xent loss", title="SimCLR training loss (no labels)")
ax1.legend(fontsize=8)
ax2.plot(list(simclr_probes), list(simclr_probes.values()), marker="o", color=plot.COLORS[2])
ax2.axhline(0.1, color="grey", ls=":", label="chance (10 classes)")
ax2.set(xlabel="SimCLR step", ylabel="test accuracy", ylim=(0, 1),
        title=f"Linear probe on h with {len(x_lab)} labels")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
SECTION_SECONDS["6a. SimCLR training"] = time.perf_counter() - t_section

# %% [markdown]
# Step 0 is the randomly initialised encoder; the probe's accuracy climbs as the NT-Xent loss falls, though
# no label was used to train f. Now **the reproduction**. Four representations of the same images, the same
# probe, the same `LABEL_FRACTION` of labels:
#
# * **raw pixels** (576 numbers);
# * a **random encoder**: our architecture with its initial weights, untrained (a different random draw from
#   SimCLR's starting point), so that what SimCLR adds is separated from what the architecture's pooling gives for free;
# * **SimCLR h**, the encoder's output, and **SimCLR z = g(h)**, the projection head's output, which the loss
#   saw. The paper found h much better than z for downstream use: the loss makes z invariant to the
#   augmentations, so g learns to discard information (such as orientation or colour) that h still keeps.
#
# And one reference the paper also draws: a **supervised** model with the same architecture (f plus a
# linear layer) trained with cross-entropy on the same labelled images, with the same augmentations,
# for `SUPERVISED_STEPS` steps.

# %%
t_section = time.perf_counter()
acc_simclr = simclr_probes[STEPS]
acc_pixels = probe_accuracy(x_lab.flatten(1), y_lab, x_test.flatten(1), y_test)
torch.manual_seed(SEED + 1000)
f_random = Encoder().to(device)
acc_random = probe_encoder(f_random)
with torch.no_grad():
    acc_simclr_z = probe_accuracy(g_simclr(features(f_simclr, x_lab).to(device)).cpu(), y_lab,
                                  g_simclr(features(f_simclr, x_test).to(device)).cpu(), y_test)
# Baselines with their best λ chosen on the test set itself (generous to them):
L2_GRID = [1e-3, 1e-2, 1e-1, 1.0]
best_pixels = max(probe_accuracy(x_lab.flatten(1), y_lab, x_test.flatten(1), y_test, l2) for l2 in L2_GRID)
_h_rand_lab, _h_rand_test = features(f_random, x_lab), features(f_random, x_test)
best_random = max(probe_accuracy(_h_rand_lab, y_lab, _h_rand_test, y_test, l2) for l2 in L2_GRID)


def train_supervised(steps, seed):
    """f plus a linear layer, cross-entropy on the labelled images only, with the SimCLR augmentations."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    f = Encoder().to(device)
    model = nn.Sequential(f, nn.Linear(f.dim, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(steps):
        idx = torch.randint(0, len(x_lab), (64,), generator=gen)
        loss = F.cross_entropy(model(augment(x_lab[idx], gen).to(device)), y_lab[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return (features(model, x_test).argmax(1) == y_test).float().mean().item()


t_sup, cpu_sup = time.perf_counter(), time.process_time()
acc_supervised = train_supervised(SUPERVISED_STEPS, SEED)
supervised_seconds, supervised_cpu = time.perf_counter() - t_sup, time.process_time() - cpu_sup

results = {"raw pixels": acc_pixels, "random encoder": acc_random, "SimCLR z (after head)": acc_simclr_z,
           "SimCLR h": acc_simclr, "supervised, same labels": acc_supervised}
for name, acc in results.items():
    print(f"{name:26s} {acc:6.1%}")
print(f"best λ on the test set: raw pixels {best_pixels:.1%}, random encoder {best_random:.1%}")
print(f"supervised model: {SUPERVISED_STEPS} steps of 64 labelled images in {supervised_seconds:.0f} s "
      f"({supervised_cpu:.0f} CPU-s)")
simclr_minus_pixels, simclr_minus_random = acc_simclr - acc_pixels, acc_simclr - acc_random
print(f"SimCLR h minus raw pixels: {100 * simclr_minus_pixels:+.1f} points; minus random encoder: "
      f"{100 * simclr_minus_random:+.1f} points; supervised minus SimCLR h: {100 * (acc_supervised - acc_simclr):+.1f}")
checks.milestone("simclr_probe_acc", acc_simclr, 0.50,
                 note=f"linear probe on SimCLR h, {len(x_lab)} labels, {len(x_test)} test images, {STEPS} steps")
checks.milestone("simclr_minus_pixels", simclr_minus_pixels, 0.25, note="same probe and λ on raw pixels")
checks.milestone("simclr_minus_random", simclr_minus_random, 0.25, note="same probe and λ on an untrained encoder")
record.metric("probe_pixels", acc_pixels)
record.metric("probe_random_encoder", acc_random)
record.metric("probe_simclr_z", acc_simclr_z)
record.metric("probe_pixels_best_l2", best_pixels)
record.metric("probe_random_best_l2", best_random)
record.metric("supervised_acc", acc_supervised)
record.metric("supervised_seconds", supervised_seconds, unit="s")

fig, ax = plt.subplots(figsize=(8, 3.6))
_colors = [plot.COLORS[7], plot.COLORS[1], plot.COLORS[5], plot.COLORS[0], plot.COLORS[3]]
bars = ax.barh(list(results), list(results.values()), color=_colors)
ax.bar_label(bars, labels=[f"{v:.1%}" for v in results.values()], padding=3)
ax.axvline(0.1, color="grey", ls=":", label="chance")
ax.axvline(0.5, color="black", ls="--", lw=1, label="milestone for SimCLR h (50 %)")
ax.set(xlim=(0, 1.08), xlabel=f"test accuracy ({len(x_test)} images)",
       title=f"Linear probe with {len(x_lab)} labels ({LABEL_FRACTION:.0%}); supervised model for reference")
ax.invert_yaxis()
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()
plt.show()
SECTION_SECONDS["6b. Probes and supervised"] = time.perf_counter() - t_section

# %% [markdown]
# **Reading the bars.** The milestone's comparison holds with a wide margin: with the same labels and the same
# linear classifier, SimCLR's features are worth far more than pixels or an untrained network of the same shape
# (on the five seeds we ran, the SimCLR probe scored between 0.79 and 0.81, the pixel probe 0.23 and the random
# encoder 0.24 to 0.35). Giving the baselines their best penalty λ, chosen on the test set itself, does not
# change the picture (printed above). The untrained encoder is well above pixels: its global pooling already
# discards the position, which is most of what makes pixels fail here.
#
# Two findings of the paper are only partly reproduced. The probe on h (before the head) was ahead of the
# probe on z (after it) by 0 to 5 points on four of our five seeds and behind by half a point on the fifth;
# the paper's gap was over 10 points on ImageNet, where h carries much more that the head can throw away.
# And **the supervised model won**, on every seed we ran, by 3 to 9 points: see "What small scale changes" below.
#
# ## 7. Which augmentation matters? The ablation, at small scale
#
# The paper's ablation trains SimCLR with one augmentation or a pair of them and compares linear-probe
# accuracies: random cropping and colour distortion, composed, stood far above every other pair. Ours drops one
# augmentation at a time. To stay within the lesson's time budget, each ablation run is shorter than the main
# run (`ABLATION_STEPS` steps); the full-augmentation point at the same step count is read from the main run,
# which probed f at that step. Set `ABLATION_STEPS` equal to `STEPS` for the full-length ablation.

# %%
t_section = time.perf_counter()
ablation = {"all three": simclr_probes[ABLATION_STEPS]}
for name, switch in [("no geometric", "geometric"), ("no brightness", "brightness"), ("no noise", "noise")]:
    _f_abl, _, _, _probes = train_simclr(ABLATION_STEPS, SEED, probe_at=(ABLATION_STEPS,), **{switch: False})
    ablation[name] = _probes[ABLATION_STEPS]
for name, acc in ablation.items():
    print(f"{name:14s} linear probe after {ABLATION_STEPS} steps: {acc:6.1%} ({100 * (acc - ablation['all three']):+.1f})")
    record.metric(f"ablation_{name.replace(' ', '_')}", acc)
most_important = min((k for k in ablation if k != "all three"), key=ablation.get)
print(f"the augmentation whose removal costs most: {most_important[3:]}")
record.metric("ablation_most_important", most_important[3:])

fig, ax = plt.subplots(figsize=(8, 3.4))
bars = ax.bar(list(ablation), list(ablation.values()), color=[plot.COLORS[0]] + [plot.COLORS[5]] * 3)
ax.bar_label(bars, labels=[f"{v:.1%}" for v in ablation.values()], padding=2)
ax.axhline(acc_random, color=plot.COLORS[1], ls="--", lw=1, label=f"random encoder ({acc_random:.1%})")
ax.set(ylim=(0, 1), ylabel="linear-probe test accuracy",
       title=f"Ablation: {ABLATION_STEPS} SimCLR steps with one augmentation dropped")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
SECTION_SECONDS["7. Ablation"] = time.perf_counter() - t_section

# %% [markdown]
# Dropping any one of the three augmentations lowered the probe on all five seeds we ran, and dropping the
# **geometric** warp cost the most on all five (printed above for this run). That is the counterpart of the
# paper's finding that random cropping is indispensable: the warp moves the digit, so the only way to match
# two views is to recognise its shape wherever it is, which is exactly the invariance the probe needs.
# Brightness plays the part of the paper's colour distortion: without it, two views of the same image share
# their overall ink level, a shortcut that can tell many images apart without looking at the shape (the
# paper makes the same argument about colour histograms). Which of brightness and noise matters more varied
# from seed to seed.
#
# ## 8. What the representation looks like
#
# The first two principal components of the test images' representations, coloured by the true class
# (which no representation was trained with). PCA is a linear projection, so what it shows is close to what a
# linear probe can use.

# %%
t_section = time.perf_counter()


def pca_2d(feats):
    x = (feats - feats.mean(0)) / (feats.std(0) + 1e-8)
    _, s, v = torch.linalg.svd(x, full_matrices=False)
    return (x @ v[:2].T).numpy(), (s[:2] ** 2).sum().item() / (s ** 2).sum().item()


_views = {"raw pixels": x_test.flatten(1), "random encoder h": features(f_random, x_test),
          "SimCLR h": features(f_simclr, x_test)}
fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
for ax, (name, feats) in zip(axes, _views.items()):
    xy, share = pca_2d(feats.double())
    for c in range(10):
        m = (y_test == c).numpy()
        ax.scatter(xy[m, 0], xy[m, 1], s=5, alpha=0.6, color=plt.cm.tab10(c), label=str(c))
    ax.set(title=f"{name}: PCA ({share:.0%} of variance)", xlabel="component 1", ylabel="component 2")
axes[-1].legend(title="class", fontsize=7, markerscale=3, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.suptitle(f"The {len(x_test)} test images in three representations, first two principal components")
fig.tight_layout()
plt.show()

# %% [markdown]
# In raw pixels the classes lie on top of each other: the main directions of variation are where the digit
# sits and how bright it is. The random encoder's global pooling removes the position, but its features are
# not organised by shape. In SimCLR's h, groups of the same colour appear even in two dimensions (how clean
# they are varies with the seed), though no label was used to train f.
#
# **Explore: augmentation strength.** The slider below scales every augmentation range by the same factor
# (1 is what SimCLR trained with, 0 is no augmentation) and shows, for the *trained* f and g, how hard the
# pretext task is at that strength: two views of 256 test images, and how often a view's most similar other
# view (out of 511) is its partner. Nothing is retrained; all values were computed in the cell below.

# %%
def partner_accuracy(z1, z2):
    """Share of the 2N views whose most similar other view (cosine) is their partner."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T).fill_diagonal_(float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return (sim.argmax(1).cpu() == partner).float().mean().item()


STRENGTHS = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]
gen_widget = torch.Generator().manual_seed(SEED + 7)
strength_results = {}
f_simclr.eval()
g_simclr.eval()
with torch.no_grad():
    for s in STRENGTHS:
        v1, v2 = augment(x_test[:256], gen_widget, s), augment(x_test[:256], gen_widget, s)
        z1, z2 = g_simclr(f_simclr(v1.to(device))), g_simclr(f_simclr(v2.to(device)))
        strength_results[s] = {"pairs": torch.stack([v1[:6], v2[:6]], 1).flatten(0, 1).clamp(0, 1),
                               "partner_acc": partner_accuracy(z1, z2), "loss": nt_xent(z1, z2, TAU).item()}
print("partner found among 511 views, by augmentation strength: "
      + ", ".join(f"{s:g}: {r['partner_acc']:.0%}" for s, r in strength_results.items()))
record.metric("partner_acc_strength_1", strength_results[1.0]["partner_acc"])


def draw_strength(s):
    fig = plt.figure(figsize=(11, 4))
    ax_img = fig.add_axes([0.02, 0.08, 0.42, 0.8])
    pairs = strength_results[s]["pairs"]  # 12 images: 6 pairs, partners next to each other
    grid = torch.ones(2 * (CANVAS + 2), 6 * (CANVAS + 2))
    for k in range(6):
        for r in range(2):
            grid[r * (CANVAS + 2):r * (CANVAS + 2) + CANVAS, k * (CANVAS + 2):k * (CANVAS + 2) + CANVAS] = pairs[2 * k + r, 0]
    ax_img.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax_img.set(xticks=[], yticks=[], title=f"strength {s:g}: two views (rows) of six test images")
    ax_img.grid(False)
    for spine in ax_img.spines.values():
        spine.set_visible(False)
    ax = fig.add_axes([0.53, 0.15, 0.44, 0.72])
    ax.plot(STRENGTHS, [strength_results[t]["partner_acc"] for t in STRENGTHS], marker="o", color=plot.COLORS[0],
            label="partner is the most similar view")
    ax.scatter([s], [strength_results[s]["partner_acc"]], s=160, facecolors="none", edgecolors=plot.COLORS[3],
               linewidths=2, zorder=3)
    ax.axvline(AUG_STRENGTH, color="grey", ls=":", label=f"training strength ({AUG_STRENGTH:g})")
    ax.set(xlabel="augmentation strength", ylabel="share of 512 views", ylim=(0, 1.02),
           title=f"partner found: {strength_results[s]['partner_acc']:.0%}; NT-Xent {strength_results[s]['loss']:.2f}")
    ax.legend(fontsize=8, loc="lower left")


widgets.explore(draw_strength, STRENGTHS, 1.0, "augmentation strength");
SECTION_SECONDS["8. Embeddings and widget"] = time.perf_counter() - t_section

# %% [markdown]
# At strength 0 the two views are the same image and the trained network always finds the partner. As the
# strength grows the views drift apart and the partner is lost more often: at the training strength the
# network still finds it for a good share of the views (printed above), at three times that strength almost
# never (shifts of up to 12 pixels push many digits off the canvas, and the brightness factor can drop to zero or below). The task SimCLR trains on is hard on purpose, and the paper found that contrastive learning needs
# stronger augmentation than supervised learning: stronger colour distortion improved its linear probe,
# while it did not help a supervised model.
#
# ## What small scale changes
#
# **The supervised model won here** (section 6, printed above; by 3 to 9 points on the five seeds we ran):
# trained directly on the same few hundred labels, with the same augmentations, it beat the linear probe on
# SimCLR features. This is the honest
# state of self-supervision at small scale. SimCLR's linear probe matched a supervised ResNet-50 only with a
# 4× wider ResNet-50, batches of 4,096 and hundreds of epochs on 1.28 million images, and the paper's own
# ablations show that contrastive learning gains more than supervised learning from bigger models, bigger
# batches and longer training. We have 2,396 images, batches of 128 (254 negatives per view), a few hundred
# steps and under 40,000 parameters (section 3). Where self-supervision pays off even at our scale is against what
# the labels alone can do with a *frozen, linear* read-out: the same probe on pixels or on an untrained
# encoder is far worse. The paper's semi-supervised result (fine-tuning the whole pretrained network on 1 %
# or 10 % of the labels) is the fairer comparison with our supervised model; exercise-sized, but not done here.
#
# Two more differences. The paper's augmentation finding is about crops and colour on natural photographs;
# on our canvas the geometric warp plays the crop's role, and which single augmentation matters most
# follows from how the data were made (the digit's position varies most). And SimCLR needed **global
# BatchNorm**: spread over many TPU cores, each core normalized with its own batch statistics, and since
# both views of an image sat on the same core, those statistics leaked which views belong together, a
# shortcut the network could use instead of learning better features; the paper averages the statistics
# over all cores. On one CPU there is only one batch, and no leak.
#
# ## 9. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: a k-nearest-neighbour evaluation
#
# Besides the linear probe, papers on self-supervised learning (MoCo among them, following Wu et al. 2018)
# report a **k-NN** evaluation: label a test image by a majority vote of its k most similar labelled images,
# with cosine similarity of the features. No training at all. Write `knn_accuracy`; break ties between
# classes in favour of the smallest class index (`np.bincount(...).argmax()` does that). The check compares
# it with scikit-learn's `KNeighborsClassifier` on SimCLR's features.

# %% tags=["exercise"]
def knn_accuracy(feats_train, y_train, feats_test, y_test, k=5):
    """Test accuracy (a float) of a k-NN majority vote with cosine similarity."""
    # TODO: normalize the rows of both feature matrices, take the (test × train) similarity matrix,
    # torch.topk(..., k) along the training dimension, vote with np.bincount(..., minlength=10).argmax().
    return None

# %% tags=["solution"]
def knn_accuracy(feats_train, y_train, feats_test, y_test, k=5):
    """Test accuracy (a float) of a k-NN majority vote with cosine similarity."""
    sim = F.normalize(feats_test, dim=1) @ F.normalize(feats_train, dim=1).T
    neighbours = sim.topk(k, dim=1).indices  # (n_test, k)
    votes = y_train[neighbours].numpy()
    predictions = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float((predictions == y_test.numpy()).mean())

# %% tags=["check"]
from sklearn.neighbors import KNeighborsClassifier

_h_lab, _h_test = features(f_simclr, x_lab), features(f_simclr, x_test)
_yours = knn_accuracy(_h_lab, y_lab, _h_test, y_test, k=5)
checks.check(_yours is not None, "knn_accuracy returned None: the TODO has not been filled in yet.",
             ok_message="knn_accuracy returns a value.", hint="Follow the steps in the TODO comment.")
_sk_knn = KNeighborsClassifier(n_neighbors=5, metric="cosine").fit(_h_lab.numpy(), y_lab.numpy())
_expected = _sk_knn.score(_h_test.numpy(), y_test.numpy())
checks.check_close(_yours, _expected, "5-NN accuracy vs scikit-learn's KNeighborsClassifier", atol=0.003,
                   hint="Use the k most *similar* training images (largest cosine), and vote over their labels.")
print(f"5-NN on SimCLR h: {_yours:.1%}; linear probe: {acc_simclr:.1%}; "
      f"5-NN on raw pixels: {knn_accuracy(x_lab.flatten(1), y_lab, x_test.flatten(1), y_test):.1%}")

# %% [markdown]
# On all five seeds we ran, 5-NN on raw pixels did better than the linear probe on raw pixels (a neighbour
# placed at a similar position can match, where one linear boundary cannot cover every position) but stayed
# far below 5-NN on SimCLR's features; and with so few labels, the linear probe on SimCLR's features beat
# 5-NN on the same features.
#
# ### Exercise 2: MoCo's and BYOL's momentum encoder
#
# MoCo and BYOL both keep a second copy of the network, the **momentum encoder** (MoCo's key encoder,
# BYOL's target network), that is never trained by gradients. After each step it moves a little towards the
# trained network: θ_target ← m·θ_target + (1 − m)·θ_online, with m close to 1 (MoCo used 0.999; BYOL starts at
# 0.996 and raises it towards 1). It changes slowly, so the embeddings it produces stay consistent from step
# to step: MoCo can keep them in a queue of negatives, and BYOL can use them as targets without collapse in
# practice. Write `momentum_update(target, online, m)`, which updates every parameter of `target` in place.

# %% tags=["exercise"]
def momentum_update(target, online, m):
    """θ_target <- m θ_target + (1 - m) θ_online for every parameter, in place, without gradients."""
    # TODO: with torch.no_grad(), loop over zip(target.parameters(), online.parameters()) and update each
    # target tensor in place (e.g. with .mul_(m).add_(..., alpha=1 - m)).
    return None

# %% tags=["solution"]
def momentum_update(target, online, m):
    """θ_target <- m θ_target + (1 - m) θ_online for every parameter, in place, without gradients."""
    with torch.no_grad():
        for p_target, p_online in zip(target.parameters(), online.parameters()):
            p_target.mul_(m).add_(p_online, alpha=1 - m)

# %% tags=["check"]
_online = copy.deepcopy(f_simclr)
torch.manual_seed(0)
_target = Encoder().to(device)
_before = [p.detach().clone() for p in _target.parameters()]
momentum_update(_target, _online, 0.9)
_after = [p.detach() for p in _target.parameters()]
checks.check(any(not torch.equal(a, b) for a, b in zip(_after, _before)),
             "the target's parameters did not change: the TODO has not been filled in yet (or the update is not in place).",
             ok_message="the target's parameters moved.", hint="Update p_target itself, e.g. p_target.mul_(m).")
_expected = [0.9 * b + 0.1 * p.detach() for b, p in zip(_before, _online.parameters())]
checks.check_close(torch.cat([a.flatten() for a in _after]), torch.cat([e.flatten() for e in _expected]),
                   "target parameters after one update with m = 0.9", atol=1e-6,
                   hint="θ_target ← m·θ_target + (1 − m)·θ_online: m multiplies the target, not the online network.")
for _ in range(200):
    momentum_update(_target, _online, 0.99)
_gap = max((a - b).abs().max().item() for a, b in zip(_target.parameters(), _online.parameters()))
print(f"after 200 more updates with m = 0.99 the largest parameter gap is {_gap:.3f} "
      f"(it shrinks by 0.99 per step: 0.99**200 = {0.99 ** 200:.3f} of the start)")

# %% [markdown]
# ### Exercise 3: alignment and uniformity
#
# Wang and Isola (2020) split what a contrastive loss asks of normalized embeddings into two measurable
# properties: **alignment**, the mean squared distance between the two views of the same image (small is
# good), and **uniformity**, log of the mean of exp(−2‖u − v‖²) over all pairs of different images (more
# negative is more spread out on the sphere). Write `alignment_uniformity(z1, z2)` returning the two floats,
# with uniformity computed on the first views z1 only (`torch.pdist` gives the pairwise distances).

# %% tags=["exercise"]
def alignment_uniformity(z1, z2):
    """(alignment, uniformity) of the L2-normalized embeddings z1[k], z2[k] of two views of image k."""
    # TODO: u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1); alignment = mean over k of ‖u_k − v_k‖²;
    # uniformity = log(mean over pairs i < j of exp(−2‖u_i − u_j‖²)) on u only.
    return None, None

# %% tags=["solution"]
def alignment_uniformity(z1, z2):
    """(alignment, uniformity) of the L2-normalized embeddings z1[k], z2[k] of two views of image k."""
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    alignment = (u - v).pow(2).sum(1).mean().item()
    uniformity = torch.pdist(u).pow(2).mul(-2).exp().mean().log().item()
    return alignment, uniformity

# %% tags=["check"]
_gen = torch.Generator().manual_seed(1)
with torch.no_grad():
    _v1, _v2 = augment(x_test[:256], _gen), augment(x_test[:256], _gen)
    _z = {name: (g_simclr(f(_v1.to(device))).cpu(), g_simclr(f(_v2.to(device))).cpu())
          for name, f in [("SimCLR", f_simclr), ("random encoder", f_random)]}
_yours = alignment_uniformity(*_z["SimCLR"])
checks.check(_yours[0] is not None, "alignment_uniformity returned None: the TODO has not been filled in yet.",
             ok_message="alignment_uniformity returns values.", hint="Follow the steps in the TODO comment.")
_u, _v = F.normalize(_z["SimCLR"][0], dim=1), F.normalize(_z["SimCLR"][1], dim=1)
_n = len(_u)
_sq = torch.cdist(_u, _u).pow(2)
_off = ~torch.eye(_n, dtype=torch.bool)
_expected = ((_u - _v).norm(dim=1).pow(2).mean().item(), torch.exp(-2 * _sq[_off]).mean().log().item())
checks.check_close(list(_yours), list(_expected), "(alignment, uniformity) of SimCLR's z on 256 test pairs",
                   atol=1e-4, hint="Normalize first; square the distances; uniformity uses pairs of different images.")
for name, (a, b) in _z.items():
    al, un = alignment_uniformity(a, b)
    print(f"{name:15s} (both through SimCLR's head g): alignment {al:.3f}, uniformity {un:.3f}")

# %% [markdown]
# NT-Xent rewards both: its numerator pulls partners together (alignment), its denominator pushes every view
# away from the others (uniformity). On all five seeds we ran, SimCLR's trained f gave both better alignment
# and better (more negative) uniformity than the random encoder through the same head. Wang and Isola showed that the two terms, used directly as a loss,
# work about as well as the contrastive loss itself.
#
# ## Going further
#
# * **Code.** SimCLR by its authors (TensorFlow, with pretrained models): [github.com/google-research/simclr](https://github.com/google-research/simclr);
#   MoCo: [github.com/facebookresearch/moco](https://github.com/facebookresearch/moco); BYOL:
#   [github.com/deepmind/deepmind-research/tree/master/byol](https://github.com/deepmind/deepmind-research/tree/master/byol).
#   The [lightly](https://github.com/lightly-ai/lightly) and [solo-learn](https://github.com/vturrisi/solo-learn)
#   libraries implement most of these methods in PyTorch.
# * **Follow-ups.** Chen, Kornblith, Swersky, Norouzi, Hinton, *Big Self-Supervised Models are Strong
#   Semi-Supervised Learners* (SimCLRv2, 2020, [arXiv:2006.10029](https://arxiv.org/abs/2006.10029)): bigger
#   models, fine-tuning and distillation with few labels. Chen, Fan, Girshick, He, *Improved Baselines with
#   Momentum Contrastive Learning* (MoCo v2, 2020, [arXiv:2003.04297](https://arxiv.org/abs/2003.04297)). Wang & Isola, *Understanding Contrastive
#   Representation Learning through Alignment and Uniformity on the Hypersphere* (2020,
#   [arXiv:2005.10242](https://arxiv.org/abs/2005.10242)), exercise 3. Chen & He, *Exploring Simple Siamese
#   Representation Learning* (SimSiam, 2020, [arXiv:2011.10566](https://arxiv.org/abs/2011.10566)): no
#   negatives and no momentum encoder, only a stop-gradient. Radford et al., *Learning Transferable Visual
#   Models From Natural Language Supervision* (CLIP, 2021, [arXiv:2103.00020](https://arxiv.org/abs/2103.00020)):
#   the same contrastive loss between images and their captions.
# * **Try it.** `-p TAU 0.5` or `-p TAU 0.05` (the temperature); `-p AUG_STRENGTH 0` (no augmentation: what
#   does the network learn?); `-p BATCH 32` (fewer negatives); `-p LABEL_FRACTION 1.0` (does the supervised
#   model's lead grow or shrink?); `-p ABLATION_STEPS 300` (the ablation at full length).
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:28s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["nt_xent_max_diff", "simclr_probe_acc", "simclr_minus_pixels",
                                                "simclr_minus_random"])
