# ---
# jupyter:
#   course:
#     idea: per-pixel classification; mean IoU from a confusion matrix; receptive fields;
#       dilated (atrous) and transposed convolution written out and checked; an FCN
#       with learned upsampling and skips; a DeepLab-style network with ASPP; dilation
#       measured against the same network without it; polygons for annotation (Polygon-RNN++)
#     number: '06'
#     papers:
#     - arxiv: '1411.4038'
#       authors: Jonathan Long, Evan Shelhamer, Trevor Darrell
#       title: Fully Convolutional Networks for Semantic Segmentation
#       year: 2014
#     - arxiv: '1412.7062'
#       authors: Liang-Chieh Chen, George Papandreou, Iasonas Kokkinos, Kevin Murphy,
#         Alan L. Yuille
#       title: Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected
#         CRFs
#       year: 2014
#     - arxiv: '1606.00915'
#       authors: Liang-Chieh Chen, George Papandreou, Iasonas Kokkinos, Kevin Murphy,
#         Alan L. Yuille
#       title: 'DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous
#         Convolution, and Fully Connected CRFs'
#       year: 2016
#     - arxiv: '1706.05587'
#       authors: Liang-Chieh Chen, George Papandreou, Florian Schroff, Hartwig Adam
#       title: Rethinking Atrous Convolution for Semantic Image Segmentation
#       year: 2017
#     - arxiv: '1802.02611'
#       authors: Liang-Chieh Chen, Yukun Zhu, George Papandreou, Florian Schroff, Hartwig
#         Adam
#       title: Encoder-Decoder with Atrous Separable Convolution for Semantic Image
#         Segmentation
#       year: 2018
#     - arxiv: '1803.09693'
#       authors: David Acuna, Huan Ling, Amlan Kar, Sanja Fidler
#       title: Efficient Interactive Annotation of Segmentation Datasets with Polygon-RNN++
#       year: 2018
#     title: "Semantic segmentation: FCN \u2192 DeepLab"
#     track: vision
#     year: 2014-18
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
# # 06 · 2014–18 · Semantic segmentation: FCN → DeepLab
#
# **Papers**
#
# * Jonathan Long, Evan Shelhamer, Trevor Darrell (2014). *Fully Convolutional Networks for Semantic
#   Segmentation.* CVPR 2015. [arXiv:1411.4038](https://arxiv.org/abs/1411.4038)
# * Liang-Chieh Chen, George Papandreou, Iasonas Kokkinos, Kevin Murphy, Alan L. Yuille (2014). *Semantic
#   Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs* (DeepLab v1). ICLR 2015.
#   [arXiv:1412.7062](https://arxiv.org/abs/1412.7062)
# * Liang-Chieh Chen, George Papandreou, Iasonas Kokkinos, Kevin Murphy, Alan L. Yuille (2016). *DeepLab:
#   Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs*
#   (DeepLab v2). IEEE TPAMI. [arXiv:1606.00915](https://arxiv.org/abs/1606.00915)
# * Liang-Chieh Chen, George Papandreou, Florian Schroff, Hartwig Adam (2017). *Rethinking Atrous
#   Convolution for Semantic Image Segmentation* (DeepLab v3). [arXiv:1706.05587](https://arxiv.org/abs/1706.05587)
# * Liang-Chieh Chen, Yukun Zhu, George Papandreou, Florian Schroff, Hartwig Adam (2018). *Encoder-Decoder
#   with Atrous Separable Convolution for Semantic Image Segmentation* (DeepLab v3+). ECCV 2018.
#   [arXiv:1802.02611](https://arxiv.org/abs/1802.02611)
# * David Acuna, Huan Ling, Amlan Kar, Sanja Fidler (2018). *Efficient Interactive Annotation of
#   Segmentation Datasets with Polygon-RNN++.* CVPR 2018. [arXiv:1803.09693](https://arxiv.org/abs/1803.09693)
#
# ## The problem before these papers
#
# A classifier (lesson 01) gives one label per image; a detector (lesson 05) one box per object.
# **Semantic segmentation** asks for a class at **every pixel**: this pixel is road, that one is a person.
# The standard score is the **mean intersection over union (mIoU)**: for each class, the pixels where
# prediction and truth agree on that class, divided by the pixels where either says that class; then the
# mean over the classes, background included.
#
# In 2014 CNNs were already used for segmentation, but indirectly. Systems classified region proposals
# or superpixels one at a time, or slid a small network over the image patch by patch, and cleaned the
# result up with a random field. Whole-image classifiers such as VGG were the obvious thing to reuse, but
# they end in fully connected layers that throw away *where* things are, and they shrink the image by 32
# on the way. Segmentation needs both: enough **context** to know *what* a pixel belongs to, and
# enough **resolution** to say exactly *where* the boundary runs.
#
# ## The key ideas, one paper at a time
#
# * **FCN (2014): every layer a convolution.** A fully connected layer is a convolution whose kernel
#   covers its whole input, so a classifier can be rewritten as a **fully convolutional network** that
#   takes an image of any size and returns a coarse map of class scores, one per position. FCN adds a
#   1×1 **score layer** and brings the coarse map back to full size with **learned upsampling**, a
#   *transposed convolution* ("deconvolution") initialised to bilinear interpolation. Because a map of
#   stride 32 is blurry, **skip connections** add score maps computed from earlier, finer layers
#   (FCN-16s, FCN-8s): "deep, coarse, semantic information" plus "shallow, fine, appearance information".
#   Trained end to end, pixels to pixels, FCN-8s reached 62.2 % mean IU on the PASCAL VOC 2012 test set,
#   a 20 % relative improvement over the previous best.
# * **DeepLab v1 (2014): do not shrink so much.** Remove the last two poolings' downsampling so the map
#   has stride 8, and make the later filters look as far as before by spreading their taps apart:
#   **atrous** ("with holes", the *algorithme à trous* of wavelets) or **dilated convolution**. The kernel
#   keeps its 3×3 weights; only the spacing grows. A fully connected **CRF** then sharpens boundaries.
#   71.6 % mIoU on VOC 2012 test, at 8 frames per second on a GPU.
# * **DeepLab v2 (2016): many rates at once.** **Atrous spatial pyramid pooling (ASPP)**: parallel
#   branches with different dilation rates on the same features, so objects of every size find a branch
#   whose field of view fits them. With ResNet-101 and the CRF: 79.7 % mIoU on VOC 2012 test.
# * **DeepLab v3 (2017): add the whole image.** When the rate approaches the size of the feature map, most
#   taps of a dilated 3×3 filter fall on padding and it degenerates towards a 1×1 filter. So v3's ASPP has
#   a 1×1 branch, three dilated branches and an **image-level pooling** branch (the mean of the whole
#   feature map, broadcast back to every position), with batch normalisation (lesson 03). The CRF is
#   dropped.
# * **DeepLab v3+ (2018): a small decoder.** Upsample the ASPP output and merge it with early, fine
#   features (FCN's skip idea again) to sharpen boundaries; use depthwise separable atrous convolutions.
#   89.0 % on VOC 2012 test and 82.1 % on Cityscapes test.
# * **Polygon-RNN++ (2018): help the people who draw the masks.** Every one of these networks learns from
#   pixel masks that people drew, typically as polygons; tracing one object's outline by hand can take up
#   to 40 seconds (as the Curve-GCN paper, below, puts it). Polygon-RNN (Castrejón et al., 2017) let a network propose the polygon **one vertex at a
#   time** (a CNN encoder and a recurrent decoder on a 28×28 grid), so an annotator only corrects the
#   vertices that are wrong, and the network re-predicts the rest. Polygon-RNN++ improved the encoder,
#   trained with reinforcement learning on the IoU, and raised the output resolution with a graph neural
#   network: 10 points (16 % relative) more mIoU in automatic mode on Cityscapes, and 50 % fewer clicks
#   in interactive mode.
#
# ## What changed after
#
# The FCN design (convolutions all the way, learned upsampling, skips) became the template for dense
# prediction: U-Net (2015) for medical images, SegNet, PSPNet (2016, pyramid pooling), and the mask head of
# Mask R-CNN in lesson 05. Dilated convolutions spread to audio (WaveNet, 2016) and to context modules
# (Yu & Koltun, 2015). DeepLab v3 and v3+ became standard baselines: the authors released TensorFlow code,
# and torchvision ships FCN and DeepLab v3. Panoptic segmentation (Kirillov et al., 2018) merged semantic
# and instance segmentation; transformer segmenters came in 2020–21. Annotation tools followed Polygon-RNN++: Curve-GCN (2019) predicts all vertices at once.
#
# ## What we do here, and what scale changes
#
# We build everything from scratch on procedurally generated 64×64 scenes of circles, squares and
# triangles, the scenes of lesson 05: the mean IoU (checked against scikit-learn), the receptive field
# (computed layer by layer and measured with gradients), a dilated convolution written with explicit index
# arithmetic (checked against `F.conv2d(..., dilation=d)`), a transposed convolution (checked against
# `F.conv_transpose2d`), an FCN with learned upsampling and skips, and a DeepLab-style network with ASPP.
# Then we **measure dilation**: the same network, same weights count, same steps and minibatches, with
# every rate set to 1. Last, a short worked example of annotating with polygons.
#
# The scale is tiny. FCN and DeepLab fine-tuned ImageNet-trained VGG-16 or ResNet-101 on PASCAL VOC's 21
# classes of real photos about 500 pixels wide; FCN's training took days on a GPU. Ours are small
# networks trained from scratch for a few hundred steps on one CPU thread, on three classes of
# flat-coloured shapes. Our mean IoUs (printed in section 9) say that the parts work and fit together,
# not that segmentation is easy.

# %% [markdown]
# ## 中文导读
#
# **语义分割**（semantic segmentation）要给图像的**每一个像素**一个类别。常用的评价指标是**平均交并比**（mIoU）：
# 对每一类，预测与真值都属于该类的像素数除以任一方属于该类的像素数，再对所有类别（包括背景）取平均。
#
# **FCN**（2014）把分类网络的全连接层改写成卷积，得到**全卷积网络**：任意大小的输入都输出一张粗糙的类别得分图；
# 再用可学习的**转置卷积**（初始化为双线性插值）做**上采样**，并用**跳跃连接**把浅层、精细的得分加进来。
# **DeepLab**（2014–2018）的思路是少做下采样，用**空洞卷积**（dilated / atrous convolution，卷积核的采样点之间留出空隙）
# 保持**感受野**不变甚至更大而不增加参数；v2 的 **ASPP**（空洞空间金字塔池化）并行使用多个空洞率；
# v3 在 ASPP 中加入**全局池化**分支（整张特征图的均值）并去掉 CRF；v3+ 加了一个小解码器。
# **Polygon-RNN++**（2018）帮助标注者：网络一次预测多边形的一个**顶点**，标注者只需修正错的顶点。
#
# 本课在 64×64 的圆形、正方形、三角形场景上从零实现：由**混淆矩阵**计算的 mIoU（与 scikit-learn 核对）、
# 逐层计算并用梯度测量的感受野、用显式下标运算写出的空洞卷积（与 `F.conv2d(..., dilation=d)` 核对）、
# 转置卷积（与 `F.conv_transpose2d` 核对）、带跳跃连接的 FCN，以及带 ASPP 的 DeepLab 式网络。
# 然后**测量空洞卷积的作用**：同一个网络、同样的参数量、同样的步数和小批量，只把所有空洞率改成 1。
# 空洞卷积主要帮助离边缘很远的内部像素：它们的类别只能从形状的边缘判断，而边缘在不带空洞的网络的感受野之外；
# 不带空洞的网络主要靠全局池化分支弥补，把这个分支的向量固定之后，它在内部像素上的准确率明显下降。
# FCN 的计算量最小，但边界附近的错误最多；DeepLab 式网络的 mIoU 最高，代价是在高分辨率特征图上计算。
# 最后用一个小例子说明多边形标注：点击次数与像素数之比、顶点网格的分辨率、修正一个顶点的收益。
# 规模很小：第 9 节打印的 mIoU 只说明各部件正确并能配合工作，而不是说分割很容易。所有数字都来自本课的运行结果。
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
from matplotlib.colors import ListedColormap
from matplotlib.path import Path as PolygonPath
from sklearn.metrics import jaccard_score

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): scenes, minibatch order and network initialisation
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: tiny data and a few steps, every code path in seconds; milestones reported, not asserted
STEPS = 450  # optimizer steps for each of the three networks: a fixed number, not a time budget (50 .. 5000)
BATCH_SIZE = 16  # scenes per step (2 .. 64)
LR = 5e-3  # peak AdamW learning rate of the one-cycle schedule, in (0, 0.05]
N_TRAIN_SCENES = 2000  # training scenes, made from seed 2·SEED (100 .. 20000)
N_TEST_SCENES = 1000  # held-out scenes, made from seed 2·SEED + 1 (50 .. 5000)
MAX_SHAPES = 4  # at most this many shapes per scene (1 .. 6)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=50, max=5000),
    BATCH_SIZE=params.Int(min=2, max=64),
    LR=params.Float(min=0.0, max=0.05, min_inclusive=False),
    N_TRAIN_SCENES=params.Int(min=100, max=20000),
    N_TEST_SCENES=params.Int(min=50, max=5000),
    MAX_SHAPES=params.Int(min=1, max=6),
)
LR = P["LR"]  # an int becomes a float
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of the expensive cells, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("06")
plt.show()

# %% [markdown]
# ## 1. The data: a class for every pixel
#
# `data.shapes_scenes` paints 1 to `MAX_SHAPES` circles, squares and triangles on a grey, slightly noisy
# 64×64 canvas. Each shape gets a random size, place and one of four colours; later shapes hide earlier
# ones. Along with the images it returns the **class map** we want to predict: for every pixel, 0 for the
# background, 1 for circle, 2 for square, 3 for triangle. Colour says nothing about the class (a red shape
# may be any of the three), so the class of a pixel in the middle of a shape can only come from the shape's
# outline, which may be up to 16 pixels away. That is the context problem of this lesson in small.
#
# As in lesson 05, the training scenes come from seed 2·`SEED` and the held-out scenes from seed
# 2·`SEED` + 1, so no seed makes both. The held-out set has 1,000 scenes, about four million pixels: one
# scene moves a class's IoU by a fraction of a point. (We need that many for section 10, which scores only the
# pixels deep inside shapes.)

# %%
SIZE = 64  # scenes are SIZE × SIZE pixels
CLASS_NAMES = data.SHAPE_CLASSES  # ('background', 'circle', 'square', 'triangle')
N_CLASSES = len(CLASS_NAMES)
CLASS_COLORS = ["#D9D9D9", "#0072B2", "#E69F00", "#009E73"]  # background, circle, square, triangle
CLASS_CMAP = ListedColormap(CLASS_COLORS)

N_TRAIN = N_TRAIN_SCENES if not SMOKE else 64
N_TEST = N_TEST_SCENES if not SMOKE else 40
t0 = time.perf_counter()
train = data.shapes_scenes(N_TRAIN, size=SIZE, max_shapes=MAX_SHAPES, seed=2 * SEED)  # training scenes: an even seed ...
test = data.shapes_scenes(N_TEST, size=SIZE, max_shapes=MAX_SHAPES, seed=2 * SEED + 1)  # ... held-out: an odd one
print(f"{N_TRAIN} training and {N_TEST} held-out scenes in {time.perf_counter() - t0:.1f} s")
checks.check_shape(train["images"], (N_TRAIN, 3, SIZE, SIZE), "training images (scenes, RGB, H, W)")
checks.check_shape(test["masks"], (N_TEST, SIZE, SIZE), "held-out class maps (scenes, H, W)")
fractions = torch.bincount(train["masks"].flatten(), minlength=N_CLASSES).double() / train["masks"].numel()
print("share of training pixels per class: " + ", ".join(f"{n} {f:.1%}" for n, f in zip(CLASS_NAMES, fractions)))
diameters = np.array([2 * o["radius"] for scene in train["factors"] for o in scene])
print(f"shape sizes (2 × radius): {diameters.min():.1f} to {diameters.max():.1f} pixels, median {np.median(diameters):.1f}")


def show_classes(ax, class_map, title):
    """Draw a class map (H, W) with the lesson's class colours."""
    ax.imshow(class_map.cpu().numpy(), cmap=CLASS_CMAP, vmin=-0.5, vmax=N_CLASSES - 0.5, interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)


def show_image(ax, image, title):
    """Draw one (3, H, W) scene."""
    ax.imshow(image.permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)


def class_legend(fig, y=0.0):
    """One legend for the class colours, below the panels."""
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, label=n) for c, n in zip(CLASS_COLORS, CLASS_NAMES)]
    fig.legend(handles=handles, loc="lower center", ncol=N_CLASSES, bbox_to_anchor=(0.5, y), frameon=False)


fig, axes = plt.subplots(2, 6, figsize=(13, 5))
for k in range(6):
    show_image(axes[0, k], train["images"][k], f"training scene {k}")
    show_classes(axes[1, k], train["masks"][k], "its class map")
axes[0, 0].set_ylabel("image")
axes[1, 0].set_ylabel("target")
fig.suptitle("The task: predict the class map (bottom) from the image (top); colour does not tell the class")
class_legend(fig)
fig.subplots_adjust(left=0.03, right=0.99, top=0.86, bottom=0.1, wspace=0.08, hspace=0.22)
plt.show()

# %% [markdown]
# ## 2. Scoring a segmentation: mean IoU, written out
#
# Most pixels are background (printed above), so **pixel accuracy** flatters a lazy model: predicting
# "background" everywhere is right about four times out of five. FCN reported four scores; the one that
# stuck is the **mean IoU**, which weighs every class equally:
#
# 1. the **confusion matrix** `C[t, p]` counts the pixels of true class t predicted as class p;
# 2. for class c, the intersection is `C[c, c]` and the union is `Σ_p C[c, p] + Σ_t C[t, c] − C[c, c]`
#    (the pixels that are c, plus those predicted c, counted once);
# 3. **IoU**_c = intersection / union, and **mIoU** is their mean over the classes (a class that is
#    neither present nor predicted is left out).
#
# One `torch.bincount` builds the whole matrix: the pair (t, p) becomes the single index `t · K + p`.

# %%
def confusion_matrix(truth, pred, n_classes=N_CLASSES):
    """C[t, p] = number of pixels of true class t predicted as class p, for class maps of any shape."""
    index = truth.reshape(-1).long() * n_classes + pred.reshape(-1).long()
    return torch.bincount(index.cpu(), minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_iou(cm):
    """IoU of every class from a confusion matrix; NaN for a class neither present nor predicted."""
    cm = cm.double()
    intersection = cm.diag()
    union = cm.sum(0) + cm.sum(1) - intersection
    return intersection / union  # 0 / 0 gives NaN


def mean_iou(cm):
    """The mean over the classes that appear in the truth or the prediction."""
    return float(np.nanmean(per_class_iou(cm).numpy()))


tiny_truth = torch.tensor([[0, 0, 1, 1], [0, 2, 2, 1]])
tiny_pred = torch.tensor([[0, 1, 1, 1], [0, 2, 0, 1]])
print("a 2×4 example: confusion matrix (rows: truth 0, 1, 2; columns: prediction 0, 1, 2)")
print(confusion_matrix(tiny_truth, tiny_pred, 3).numpy())
checks.check_close(per_class_iou(confusion_matrix(tiny_truth, tiny_pred, 3)), [2 / 4, 3 / 4, 1 / 2],
                   "per-class IoU of the 2×4 example (class 0: 2 of 4; class 1: 3 of 4; class 2: 1 of 2)")

# %% [markdown]
# Two baselines on the held-out scenes, each scored by our function and, independently, by scikit-learn's
# `jaccard_score(average="macro")` on the flattened pixels: **all background**, and a **colour rule** that
# calls every pixel far from the background grey a circle (the most common shape class). A good score must
# beat both by a wide margin.

# %%
def colour_rule(images):
    """Every pixel whose colour is far from the background grey is called a circle."""
    return ((images - 0.5).abs().amax(1) > 0.15).long() * CLASS_NAMES.index("circle")


baselines = {"all background": torch.zeros_like(test["masks"]), "colour rule": colour_rule(test["images"])}
sklearn_diffs = []
for name, pred in baselines.items():
    cm = confusion_matrix(test["masks"], pred)
    ours = mean_iou(cm)
    reference = jaccard_score(test["masks"].flatten().numpy(), pred.flatten().numpy(), average="macro")
    sklearn_diffs.append(abs(ours - reference))
    print(f"{name:15s}: pixel accuracy {cm.diag().sum() / cm.sum():.3f}, mIoU {ours:.4f} "
          f"(scikit-learn {reference:.4f}); per class " + ", ".join(f"{v:.3f}" for v in per_class_iou(cm).tolist()))
checks.check(max(sklearn_diffs) < 1e-9, "our mean IoU differs from scikit-learn's jaccard_score",
             ok_message="Our mean IoU matches scikit-learn's jaccard_score(average='macro') on both baselines.")

# %% [markdown]
# All background scores a high pixel accuracy and a low mIoU; the colour rule finds the shapes but not
# their classes (printed above). Only a model that tells the classes apart scores well on mIoU.
#
# ## 3. How far can a pixel see? The receptive field
#
# A convolutional network's output at one pixel depends only on a window of the input, its **receptive
# field** (RF). Layer by layer, with kernel size k, stride s and dilation d (section 4), two numbers follow
# the stack: the RF size r, and the **jump** j, the distance in input pixels between two neighbouring cells
# of the current feature map:
#
# $$r_\ell = r_{\ell-1} + (k_\ell - 1)\, d_\ell\, j_{\ell-1}, \qquad j_\ell = j_{\ell-1}\, s_\ell, \qquad r_0 = j_0 = 1.$$
#
# A 3×3 layer widens the window by 2 cells of the map it reads: 2 pixels on the image, 2·j deeper down.
# That is why classifiers downsample: after a few strides of 2, every layer adds many pixels. It is also
# FCN's problem: downsampling by 32 gives a large RF and a blurred map. DeepLab's answer: keep the stride
# small and set d > 1 instead.
#
# Our three networks (built in sections 6 and 7) as lists of (kernel, stride, dilation), along the path
# that sees farthest: FCN-lite downsamples to 1/16; DeepLab-lite stays at stride 2 and dilates; its
# "rates 1" twin is the same network without dilation.

# %%
def receptive_fields(layers):
    """RF size (pixels) after each layer of [(kernel, stride, dilation), ...], and the jump of each map."""
    r, j, sizes, jumps = 1, 1, [], []
    for k, s, d in layers:
        r += (k - 1) * d * j
        j *= s
        sizes.append(r)
        jumps.append(j)
    return sizes, jumps


DEEPLAB_RATES, ASPP_RATES = (2, 4), (4, 8, 12)  # the dilated body, and ASPP's three 3×3 branches
MODEL_NAMES = ["FCN-lite", "DeepLab-lite", "DeepLab-lite, rates 1"]
MODEL_COLORS = dict(zip(MODEL_NAMES, [plot.COLORS[1], plot.COLORS[0], plot.COLORS[3]]))
STACKS = {  # the path that sees farthest: stem, then the deepest layers (for DeepLab: ASPP's widest branch)
    "FCN-lite": [(3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 1, 1)],
    "DeepLab-lite": [(3, 2, 1), (3, 1, 1)] + [(3, 1, r) for r in DEEPLAB_RATES] + [(3, 1, max(ASPP_RATES))],
    "DeepLab-lite, rates 1": [(3, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1)],
}
for name, layers in STACKS.items():
    sizes, jumps = receptive_fields(layers)
    print(f"{name:22s} RF after each layer: {sizes} pixels; jump of the last map {jumps[-1]}")
checks.check_close(receptive_fields([(3, 1, 1)] * 3)[0], [3, 5, 7], "three stacked 3×3 convolutions see 3, 5, 7 pixels")
PLAIN_RF = receptive_fields(STACKS["DeepLab-lite, rates 1"])[0][-1]
print(f"shapes are {diameters.min():.0f} to {diameters.max():.0f} pixels wide; the plain network's convolutions see {PLAIN_RF}")

# %% [markdown]
# ## 4. Dilated (atrous) convolution, written out
#
# A 3×3 convolution with **dilation** d reads its nine inputs d pixels apart: output (i, j) is
#
# $$y[o, i, j] = \sum_{c} \sum_{a=0}^{2} \sum_{b=0}^{2} w[o, c, a, b]\; x[c,\; i + a\,d - p,\; j + b\,d - p],$$
#
# with zero padding p (p = d keeps the size). Same nine weights, same cost per output, but a 3×3 kernel
# spans (3 − 1)·d + 1 pixels: 3, 5, 9 for d = 1, 2, 4. "À trous" is French for "with holes": the same
# result comes from an ordinary convolution whose kernel has d − 1 zeros inserted between its taps. We
# write the formula as nine shifted slices of the padded input, one per kernel tap, and check it against
# PyTorch's `F.conv2d(..., dilation=d)` and against the kernel-with-holes version.

# %%
def atrous_conv2d(x, weight, dilation=1, padding=0):
    """Dilated convolution, stride 1: x (B, C, H, W), weight (O, C, K, K) -> (B, O, H', W').

    Output (i, j) reads input (i + a·dilation − padding, j + b·dilation − padding) for every tap (a, b)."""
    B, C, H, W = x.shape
    O, _, K, _ = weight.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    H_out, W_out = H + 2 * padding - dilation * (K - 1), W + 2 * padding - dilation * (K - 1)
    out = x.new_zeros(B, O, H_out, W_out)
    for a in range(K):
        for b in range(K):
            rows, cols = a * dilation, b * dilation  # where tap (a, b) starts in the padded input
            window = padded[:, :, rows:rows + H_out, cols:cols + W_out]
            out += torch.einsum("bchw,oc->bohw", window, weight[:, :, a, b])
    return out


def kernel_with_holes(weight, dilation):
    """The same kernel spread out, with dilation − 1 zeros between its taps."""
    O, C, K, _ = weight.shape
    spread = weight.new_zeros(O, C, (K - 1) * dilation + 1, (K - 1) * dilation + 1)
    spread[:, :, ::dilation, ::dilation] = weight
    return spread


gen = torch.Generator().manual_seed(SEED)
atrous_diff = 0.0
for dilation, padding in ((1, 1), (2, 2), (4, 4), (3, 0), (6, 6)):
    x = torch.randn(2, 5, 19, 23, generator=gen)
    w = torch.randn(7, 5, 3, 3, generator=gen)
    ours = atrous_conv2d(x, w, dilation, padding)
    torch_version = F.conv2d(x, w, dilation=dilation, padding=padding)
    holes = F.conv2d(x, kernel_with_holes(w, dilation), padding=padding)
    atrous_diff = max(atrous_diff, (ours - torch_version).abs().max().item(), (holes - torch_version).abs().max().item())
    print(f"dilation {dilation}, padding {padding}: output {tuple(ours.shape)}, kernel with holes {tuple(kernel_with_holes(w, dilation).shape[2:])}")
print(f"max |difference| to F.conv2d(dilation=d): {atrous_diff:.1e}")
checks.milestone("atrous_conv_max_diff", atrous_diff, 1e-4, "<=",
                 note="max |our shifted-slice dilated convolution (and the kernel with holes) − F.conv2d(dilation=d)|")

# %% [markdown]
# From here on the networks use `nn.Conv2d(..., dilation=d)`, which computes the same thing faster.
#
# The left panels show which input pixels one output pixel reads at dilation 1, 2 and 4: the same nine
# taps, spread wider. The right panel applies the RF formula to our three networks, layer by layer,
# against the range of shape sizes.

# %%
fig = plt.figure(figsize=(13, 3.9))
grid = fig.add_gridspec(1, 5, width_ratios=[1, 1, 1, 0.15, 2.3])
for col, d in enumerate((1, 2, 4)):
    ax = fig.add_subplot(grid[0, col])
    taps = np.zeros((11, 11))
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            taps[5 + a * d, 5 + b * d] = 1
    ax.imshow(taps, cmap="Greys", vmin=0, vmax=1.4)
    ax.plot(5, 5, "o", color=plot.COLORS[3], ms=6)
    ax.set_xticks(np.arange(-0.5, 11), minor=True)
    ax.set_yticks(np.arange(-0.5, 11), minor=True)
    ax.grid(which="minor", color="0.8", lw=0.5)
    ax.grid(which="major", visible=False)
    ax.tick_params(which="both", length=0)
    ax.set(title=f"dilation {d}: spans {2 * d + 1} px", xticks=[], yticks=[])
    if col == 0:
        ax.set_ylabel("input y")
    if col == 1:
        ax.set_xlabel("input x (one square = one pixel)")
ax = fig.add_subplot(grid[0, 4])
ax.axhspan(diameters.min(), diameters.max(), color="0.85", label="shape sizes")
RF_STYLES = {"FCN-lite": ("s", "--", -0.1), "DeepLab-lite": ("o", "-", 0.0), "DeepLab-lite, rates 1": ("^", ":", 0.1)}
for name, layers in STACKS.items():
    sizes = receptive_fields(layers)[0]
    marker, style, shift = RF_STYLES[name]  # a small sideways shift: FCN-lite and DeepLab-lite agree up to layer 4
    label = name + (" (same as DeepLab-lite to layer 4)" if name == "FCN-lite" else "")
    ax.plot(np.arange(len(sizes) + 1) + shift, [1] + sizes, marker=marker, ls=style, color=MODEL_COLORS[name], label=label)
ax.set(title="Receptive field, layer by layer", xlabel="3×3 layers applied", ylabel="RF size (pixels)")
ax.legend(fontsize=8, loc="upper left")
fig.suptitle("A 3×3 kernel with dilation d reads 9 pixels spread over 2d + 1; stacked, dilations make the RF grow fast")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Learned upsampling: the transposed convolution, written out
#
# FCN's coarse score maps must come back to full size. A **transposed convolution** with stride s does
# the reverse of a strided convolution's bookkeeping: every *input* cell paints its kernel, scaled by its
# value, into the output, and neighbouring cells' paintings, s pixels apart, overlap and add. (It is the
# gradient of a strided convolution with respect to its input, hence FCN's "backwards strided
# convolution".) A padding p crops p pixels from each side of the painted result.

# %%
def conv_transpose2d(x, weight, stride, padding=0):
    """Transposed convolution: x (B, C, H, W), weight (C, O, K, K) -> (B, O, (H−1)·stride + K − 2·padding, ...)."""
    B, C, H, W = x.shape
    _, O, K, _ = weight.shape
    out = x.new_zeros(B, O, (H - 1) * stride + K, (W - 1) * stride + K)
    for a in range(K):
        for b in range(K):  # tap (a, b) of every input cell (h, w) lands on output (h·stride + a, w·stride + b)
            out[:, :, a:a + (H - 1) * stride + 1:stride, b:b + (W - 1) * stride + 1:stride] += \
                torch.einsum("bchw,co->bohw", x, weight[:, :, a, b])
    return out[:, :, padding:out.shape[2] - padding, padding:out.shape[3] - padding]


transposed_diff = 0.0
for stride, kernel, padding in ((2, 4, 1), (2, 3, 0), (4, 8, 2), (3, 3, 1)):
    x = torch.randn(2, 5, 6, 7, generator=gen)
    w = torch.randn(5, 3, kernel, kernel, generator=gen)
    transposed_diff = max(transposed_diff, (conv_transpose2d(x, w, stride, padding)
                                            - F.conv_transpose2d(x, w, stride=stride, padding=padding)).abs().max().item())
checks.check(transposed_diff < 1e-4, f"our transposed convolution differs from F.conv_transpose2d by {transposed_diff:.1e}",
             ok_message=f"Our transposed convolution matches F.conv_transpose2d (max |difference| {transposed_diff:.1e}).")

# %% [markdown]
# **Bilinear initialisation.** FCN starts its upsampling layers as bilinear interpolation and lets
# training change them. For a factor f, the kernel is 2f wide, the outer product of a triangle
# `1 − |i − (f − 0.5)| / f`, with stride f and padding f/2, one class channel to itself. Away from the
# border it reproduces `F.interpolate(mode="bilinear", align_corners=False)` exactly; at the border the
# painting misses its outer neighbour (zero padding) while `F.interpolate` repeats the edge value.

# %%
def bilinear_kernel(factor, channels):
    """Weights (channels, channels, 2·factor, 2·factor) that make a transposed convolution with
    stride factor and padding factor // 2 upsample each channel bilinearly."""
    k = 2 * factor
    triangle = 1 - (torch.arange(k, dtype=torch.float32) - (factor - 0.5)).abs() / factor
    weight = torch.zeros(channels, channels, k, k)
    weight[range(channels), range(channels)] = triangle[:, None] * triangle[None, :]
    return weight


for factor in (2, 4):
    x = torch.randn(2, 3, 8, 8, generator=gen)
    painted = conv_transpose2d(x, bilinear_kernel(factor, 3), factor, factor // 2)
    interpolated = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    edge = factor // 2
    checks.check_close(painted[..., edge:-edge, edge:-edge], interpolated[..., edge:-edge, edge:-edge],
                       f"bilinear transposed convolution ×{factor} vs F.interpolate, {edge} border pixel(s) left out", atol=1e-5)

# %% [markdown]
# ## 6. FCN-lite: downsample for context, upsample with skips
#
# Our FCN follows FCN-8s, scaled down, with skips all the way to stride 2 (FCN-8s stopped at stride 8).
# Four 3×3 convolutions with stride 2 take the 64×64 image down to 4×4 (stride 16), and one more 3×3
# convolution works there: every coarse cell sees 63 pixels, the whole shape. A 1×1 **score layer** turns the coarse features into four class scores per cell. Then, three
# times: upsample the scores 2× with a learned transposed convolution (bilinear at the start) and add the
# scores a 1×1 layer computes from the finer map of the same size (the **skip**); a last transposed
# convolution brings stride 2 back to the pixels. As in the paper, the skip score layers start at zero, so
# the network begins with the coarse prediction and learns how much detail to add.

# %%
def conv_bn(c_in, c_out, stride=1, dilation=1):
    """3×3 convolution (dilated if asked, padded to keep the size at stride 1), batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


def conv1x1_bn(c_in, c_out):
    """1×1 convolution, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class FCNLite(nn.Module):
    """Encoder to stride 16, a score layer, and three 2× learned upsamplings with skips from strides 8, 4, 2."""

    def __init__(self, widths=(16, 16, 24, 32, 32)):
        super().__init__()
        w2, w4, w8, w16, w16b = widths
        self.down2, self.down4, self.down8 = conv_bn(3, w2, 2), conv_bn(w2, w4, 2), conv_bn(w4, w8, 2)
        self.down16 = nn.Sequential(conv_bn(w8, w16, 2), conv_bn(w16, w16b))
        self.score16 = nn.Conv2d(w16b, N_CLASSES, 1)
        self.skips = nn.ModuleList([nn.Conv2d(c, N_CLASSES, 1) for c in (w8, w4, w2)])  # strides 8, 4, 2
        for layer in self.skips:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.ups = nn.ModuleList([nn.ConvTranspose2d(N_CLASSES, N_CLASSES, 4, 2, 1, bias=False) for _ in range(4)])
        with torch.no_grad():
            for up in self.ups:
                up.weight.copy_(bilinear_kernel(2, N_CLASSES))

    def forward(self, images):
        f2 = self.down2(images - 0.5)
        f4 = self.down4(f2)
        f8 = self.down8(f4)
        scores = self.score16(self.down16(f8))  # (B, classes, 4, 4)
        for up, skip, fine in zip(self.ups, self.skips, (f8, f4, f2)):
            scores = up(scores) + skip(fine)  # 8×8, 16×16, 32×32
        return self.ups[-1](scores)  # (B, classes, 64, 64)

# %% [markdown]
# ## 7. DeepLab-lite: stay at stride 2, dilate, and pool the image (ASPP)
#
# DeepLab keeps the feature map large. Ours downsamples once, to a 32×32 map of stride 2 (an object
# then spans 8 to 16 feature cells, the order of magnitude DeepLab's stride-8 maps give PASCAL objects),
# and never again. A 3×3 convolution, then a **dilated body** of two 3×3 convolutions with rates 2 and 4, then
# **ASPP** in DeepLab v3's form, written out below:
#
# * a 1×1 branch (the pixel's own features);
# * three 3×3 branches with rates 4, 8 and 12: three fields of view at once;
# * an **image-pooling** branch: the mean of the whole feature map, through a 1×1 convolution, copied back
#   to every position, so every pixel also knows what is in the image;
#
# concatenated and mixed by a 1×1 projection. A 1×1 classifier gives the class scores at stride 2, and
# bilinear interpolation brings them to full size (as DeepLab does, without a learned upsampling).
#
# The **plain twin** is the same network with every rate set to 1. Dilation changes no weight shape, so
# the twins have exactly the same parameters; built after the same `torch.manual_seed`, they even start
# from the same weights.

# %%
class ASPP(nn.Module):
    """DeepLab v3's atrous spatial pyramid pooling: a 1×1 branch, 3×3 branches at several rates and an
    image-pooling branch, concatenated and projected back to c_out channels."""

    def __init__(self, c_in, c_out, rates):
        super().__init__()
        self.branches = nn.ModuleList([conv1x1_bn(c_in, c_out)] + [conv_bn(c_in, c_out, 1, r) for r in rates])
        self.image_pool = conv1x1_bn(c_in, c_out)
        self.project = conv1x1_bn(c_out * (len(rates) + 2), c_out)
        self.fixed_pool = None  # set to a (1, c_in, 1, 1) tensor to replace every image's mean (section 10)

    def forward(self, x):
        outs = [branch(x) for branch in self.branches]
        pooled = x.mean((2, 3), keepdim=True) if self.fixed_pool is None else self.fixed_pool.expand(len(x), -1, -1, -1)
        outs.append(self.image_pool(pooled).expand(-1, -1, x.shape[2], x.shape[3]))  # the same vector everywhere
        return self.project(torch.cat(outs, 1))


class DeepLabLite(nn.Module):
    """Stride-2 stem, a dilated body, ASPP, a 1×1 classifier and bilinear upsampling."""

    def __init__(self, body_rates=DEEPLAB_RATES, aspp_rates=ASPP_RATES, width=16):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, width))
        self.body = nn.Sequential(*[conv_bn(width, width, 1, r) for r in body_rates])
        self.aspp = ASPP(width, width, aspp_rates)
        self.classifier = nn.Conv2d(width, N_CLASSES, 1)

    def features(self, images):
        """The body's output, the input of ASPP: (B, width, 32, 32)."""
        return self.body(self.stem(images - 0.5))

    def forward(self, images):
        scores = self.classifier(self.aspp(self.features(images)))
        return F.interpolate(scores, scale_factor=2, mode="bilinear", align_corners=False)


def build(name):
    """A freshly initialised network; the same seed for all, so the two DeepLab twins start identical."""
    torch.manual_seed(SEED)
    if name == "FCN-lite":
        return FCNLite().to(device)
    if name == "DeepLab-lite":
        return DeepLabLite().to(device)
    return DeepLabLite(body_rates=(1,) * len(DEEPLAB_RATES), aspp_rates=(1,) * len(ASPP_RATES)).to(device)


models = {name: build(name) for name in MODEL_NAMES}
n_params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
probe = train["images"][:2].to(device)
for name, model in models.items():
    with torch.no_grad():
        checks.check_shape(model(probe), (2, N_CLASSES, SIZE, SIZE), f"{name} scores (batch, classes, H, W)")
checks.check(n_params["DeepLab-lite"] == n_params["DeepLab-lite, rates 1"],
             "the two DeepLab twins should have the same number of parameters",
             ok_message=f"Both DeepLab twins have {n_params['DeepLab-lite']:,} parameters.")
checks.check(all(torch.equal(a, b) for a, b in zip(models["DeepLab-lite"].parameters(), models["DeepLab-lite, rates 1"].parameters())),
             "the two DeepLab twins should start from the same weights", ok_message="...and start from the same weights.")

# %% [markdown]
# **Measuring the receptive field.** The formula of section 3 can be checked on the real networks: the
# gradient of one output pixel's scores with respect to the input is zero outside its receptive field.
# The image-pooling branch would make it the whole image, so for this measurement we freeze the pooled
# vector (`fixed_pool`). The measurement also includes the final 2× bilinear interpolation, which mixes
# the two nearest cells of the stride-2 map, so an output pixel reads one cell (2 pixels) more than the
# formula's window. Those two cells are centred on even input positions, so the window of an output pixel
# at an even position is not centred on it: we measure two neighbouring output pixels and keep the
# farthest input pixel either one reads, the plain twin's **reach**.

# %%
def input_gradient(model, images, row, col):
    """|d (sum of the class scores at output pixel (row, col)) / d input|, summed over colours and images: (H, W)."""
    model.eval()
    x = images.clone().requires_grad_(True)
    model(x)[:, :, row, col].sum().backward()
    return x.grad.abs().sum((0, 1)).cpu()


def gradient_window(model, images, position):
    """First and last input column that change output pixel (position, position), the image-pooling vector frozen."""
    aspp = getattr(model, "aspp", None)
    if aspp is not None:
        with torch.no_grad():
            aspp.fixed_pool = model.features(images).mean((0, 2, 3), keepdim=True)[:1]
    grad = input_gradient(model, images, position, position)
    if aspp is not None:
        aspp.fixed_pool = None
    cols = torch.nonzero(grad.sum(0) > 0)[:, 0]
    return int(cols.min()), int(cols.max())


rf_probe = torch.rand(4, 3, SIZE, SIZE, generator=gen).to(device)
for name, stack in STACKS.items():
    first, last = gradient_window(models[name], rf_probe, SIZE // 2)
    print(f"{name:22s}: formula {receptive_fields(stack)[0][-1]:3d} pixels (features); "
          f"measured {last - first + 1:3d} pixels at the output (clipped to the 64-pixel image)")
plain_reach = []
for position in (SIZE // 2, SIZE // 2 + 1):  # an even and an odd output pixel
    first, last = gradient_window(models["DeepLab-lite, rates 1"], rf_probe, position)
    plain_reach.append(max(position - first, last - position))
    print(f"plain twin, output pixel {position}: reads input pixels {first} to {last} "
          f"({position - first} to the left, {last - position} to the right)")
    checks.check(last - first + 1 == PLAIN_RF + 2, f"the plain twin's measured window ({last - first + 1} px) should be "
                 f"the formula's {PLAIN_RF} px plus one stride-2 cell", ok_message=f"window {last - first + 1} px = "
                 f"{PLAIN_RF} px (formula) + 2 px (the interpolation's second cell)")
PLAIN_REACH = max(plain_reach)  # the farthest input pixel the plain twin's convolutions let an output pixel read
INTERIOR_FROM = PLAIN_REACH + 1  # a shape pixel this far (or farther) from every other class sees only its own class
print(f"plain twin's reach: {PLAIN_REACH} pixels; pixels {INTERIOR_FROM} or more from every other class are beyond it")

# %% [markdown]
# ## 8. Training the three networks the same way
#
# A segmentation network is trained like a classifier, with one cross-entropy term per pixel: FCN's
# "per-pixel multinomial logistic loss", averaged over all 4,096 pixels of every scene. All three networks
# get the same `STEPS` steps of `BATCH_SIZE` scenes, **the same minibatches in the same order**, and the
# same optimiser: AdamW (lesson 02) with a one-cycle learning-rate schedule (lesson 04) peaking at `LR`.
# The papers used SGD with momentum on ImageNet-initialised networks; we start from scratch, where Adam is
# more forgiving.

# %%
N_STEPS = STEPS if not SMOKE else 12
train_images, train_masks = train["images"].to(device), train["masks"].to(device)


def train_network(model):
    """STEPS steps of per-pixel cross-entropy; the minibatch order depends on SEED only. Returns the losses."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=N_STEPS, pct_start=0.15)
    order = torch.Generator().manual_seed(SEED)
    losses = np.zeros(N_STEPS)
    model.train()
    for step in range(N_STEPS):
        idx = torch.randint(0, N_TRAIN, (BATCH_SIZE,), generator=order).to(device)
        loss = F.cross_entropy(model(train_images[idx]), train_masks[idx])  # mean over every pixel of the batch
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses[step] = loss.item()
    return losses


history, train_seconds = {}, {}
for name, model in models.items():
    t0 = time.perf_counter()
    history[name] = train_network(model)
    train_seconds[name] = time.perf_counter() - t0
    print(f"{name:22s}: {N_STEPS} steps in {train_seconds[name]:5.1f} s, mean loss of the last 50 steps "
          f"{history[name][-50:].mean():.3f}")
SECTION_SECONDS.update({f"train {name}": s for name, s in train_seconds.items()})

# %%
fig, ax = plt.subplots(figsize=(8, 4))
window = min(25, N_STEPS)
for name in MODEL_NAMES:
    smooth = np.convolve(history[name], np.ones(window) / window, mode="valid")
    ax.plot(np.arange(window, N_STEPS + 1), smooth, color=MODEL_COLORS[name], label=name)
ax.set_yscale("log")
ax.set(title=f"Training loss (per-pixel cross-entropy, mean of the last {window} steps)", xlabel="step", ylabel="loss (log scale)")
ax.legend()
plt.show()

# %% [markdown]
# ## 9. Results on the held-out scenes
#
# Each network labels the 1,000 held-out scenes; each pixel takes the class with the highest score. The
# table gives the mean IoU, the IoU of every class, the number of parameters, the multiply-adds per 64×64
# image (counted with forward hooks on every convolution) and the training time. We check our mean IoU
# against scikit-learn once more, on the real predictions.

# %%
@torch.no_grad()
def predict(model, images, batch=100):
    """Class maps (N, H, W) for a stack of images."""
    model.eval()
    return torch.cat([model(images[i:i + batch].to(device)).argmax(1).cpu() for i in range(0, len(images), batch)])


def multiply_adds(model):
    """Multiply-adds of every convolution for one 64×64 image, counted with forward hooks."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):
            total += inputs[0][0].numel() * module.out_channels * k
        else:
            total += output[0].numel() * module.in_channels // module.groups * k

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model.eval()
        model(train_images[:1])
    for h in hooks:
        h.remove()
    return total


t0 = time.perf_counter()
predictions = {name: predict(model, test["images"]) for name, model in models.items()}
confusions = {name: confusion_matrix(test["masks"], p) for name, p in predictions.items()}
miou = {name: mean_iou(cm) for name, cm in confusions.items()}
class_iou = {name: per_class_iou(cm).numpy() for name, cm in confusions.items()}
print(f"{'network':22s} {'mIoU':>6s}  " + "  ".join(f"{n:>10s}" for n in CLASS_NAMES) + f"  {'params':>7s} {'mult-adds':>10s} {'train s':>7s}")
for name in MODEL_NAMES:
    print(f"{name:22s} {miou[name]:6.4f}  " + "  ".join(f"{v:10.4f}" for v in class_iou[name])
          + f"  {n_params[name]:7,d} {multiply_adds(models[name]) / 1e6:8.1f} M {train_seconds[name]:7.1f}")
reference = jaccard_score(test["masks"].flatten().numpy(), predictions["DeepLab-lite"].flatten().numpy(), average="macro")
sklearn_diffs.append(abs(miou["DeepLab-lite"] - reference))
print(f"DeepLab-lite mIoU by scikit-learn: {reference:.6f}; largest difference to ours over all checks: {max(sklearn_diffs):.1e}")
checks.milestone("miou_matches_sklearn", max(sklearn_diffs), 1e-9, "<=",
                 note="max |our confusion-matrix mIoU − sklearn jaccard_score(average='macro')|, two baselines and DeepLab-lite")
checks.milestone("miou", miou["DeepLab-lite"], 0.80, ">=",
                 note=f"DeepLab-lite mean IoU (4 classes, background included) on {N_TEST} held-out scenes, after {N_STEPS} steps")
record.metric("miou_fcn", round(miou["FCN-lite"], 4))
record.metric("miou_rates1", round(miou["DeepLab-lite, rates 1"], 4))
SECTION_SECONDS["evaluate"] = time.perf_counter() - t0

# %%
fig, ax = plt.subplots(figsize=(8.5, 4))
bar = 0.26
for k, name in enumerate(MODEL_NAMES):
    ax.bar(np.arange(N_CLASSES) + (k - 1) * bar, class_iou[name], bar, color=MODEL_COLORS[name],
           label=f"{name} (mIoU {miou[name]:.3f})")
ax.set_xticks(range(N_CLASSES), CLASS_NAMES)
ax.set(title="IoU of every class on the held-out scenes", xlabel="class", ylabel="IoU", ylim=(0, 1.0))
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, fontsize=9)
plt.show()

# %% [markdown]
# DeepLab-lite is the best of the three here, and the background is easy for all of them. The price is
# compute: with fewer parameters, DeepLab-lite does several times FCN-lite's multiply-adds, because all its
# layers run on the 32×32 map while FCN-lite's deep layers run on 8×8 and 4×4 (printed above). That was
# the trade-off between the two papers too: DeepLab computes dense features at stride 8 where FCN computes
# them at stride 32.
#
# ## 10. What does dilation buy? Measured
#
# The two DeepLab twins differ only in their rates. The plain twin's features see a 19×19 window
# (section 3), and through the final interpolation an output pixel reads input pixels at most 11 pixels
# away (its reach, measured in section 7); its image-pooling branch still sees the whole image, but only
# as one average vector. So we look at every shape pixel and its **distance to the nearest pixel of
# another class** (the Chebyshev distance: a pixel at distance d has only its own class within d − 1
# pixels in every direction, rows and columns alike). A pixel 12 or more pixels from every other class
# reads only pixels of its own class, so the plain twin's convolutions never see the boundary with
# another class: usually one flat colour, though where two shapes of one class overlap their colour edge
# is in view. The distance map is computed by growing
# windows: a pixel is within distance k of another class if the largest or the smallest class id in
# its (2k + 1)×(2k + 1) window differs from its own, and k rounds of a 3×3 max (or min) give exactly
# that window.

# %%
def distance_to_other_class(masks, max_distance=16):
    """Chebyshev distance (1 .. max_distance) from every pixel to the nearest pixel of another class."""
    m = masks[:, None].float()
    largest, smallest = m, m
    distance = torch.full(masks.shape, max_distance)
    for k in range(1, max_distance):
        largest = F.max_pool2d(largest, 3, 1, 1)  # after k rounds: the max over the (2k + 1)² window
        smallest = -F.max_pool2d(-smallest, 3, 1, 1)
        near = ((largest != m) | (smallest != m))[:, 0] & (distance == max_distance)
        distance[near] = k
    return distance


test_distance = distance_to_other_class(test["masks"])
checks.check_close(distance_to_other_class(torch.tensor([[[0, 0, 0, 0, 0, 0, 0, 1]]]))[0, 0], [7, 6, 5, 4, 3, 2, 1, 1],
                   "distances along a 1×8 strip with one pixel of another class at the end")
shape_pixels = test["masks"] > 0
DISTANCES = np.arange(1, INTERIOR_FROM + 1)  # farther out there are too few pixels for a steady accuracy
counts = np.array([int((shape_pixels & (test_distance == d)).sum()) for d in DISTANCES])
accuracy_by_distance = {
    name: np.array([float(((predictions[name] == test["masks"]) & shape_pixels & (test_distance == d)).sum()) / max(c, 1)
                    for d, c in zip(DISTANCES, counts)])
    for name in MODEL_NAMES}
deep = shape_pixels & (test_distance >= INTERIOR_FROM)
deep_accuracy = {name: float((predictions[name] == test["masks"])[deep].float().mean()) for name in MODEL_NAMES}
print(f"shape pixels at distance 1 to {DISTANCES[-1]}: {counts.tolist()}")
for name in MODEL_NAMES:
    print(f"{name:22s} accuracy at distance " + ", ".join(f"{d}: {accuracy_by_distance[name][d - 1]:.3f}"
                                                          for d in (1, 3, 6, 9, INTERIOR_FROM)))
print(f"{int(deep.sum()):,} shape pixels ({deep.sum() / shape_pixels.sum():.2%}) in {int(deep.any(2).any(1).sum())} scenes are "
      f"{INTERIOR_FROM} or more pixels from every other class; accuracy there: "
      + ", ".join(f"{n} {a:.3f}" for n, a in deep_accuracy.items()))


def twin_gap(pixels):
    """Accuracy of the dilated twin minus the plain twin's, on the pixels where the boolean map is True."""
    right = {name: (predictions[name] == test["masks"])[pixels].float().mean() for name in MODEL_NAMES[1:]}
    return float(right["DeepLab-lite"] - right["DeepLab-lite, rates 1"])


print("dilated minus plain twin, accuracy on shape pixels at distance ≥ d: "
      + ", ".join(f"d ≥ {d}: {twin_gap(shape_pixels & (test_distance >= d)):+.3f}" for d in (1, 4, 8, INTERIOR_FROM)))

# %%
fig, ax = plt.subplots(figsize=(8.5, 4.3))
for name in MODEL_NAMES:
    ax.plot(DISTANCES, accuracy_by_distance[name], "o-", color=MODEL_COLORS[name], label=name)
ax.axvspan(INTERIOR_FROM - 0.5, DISTANCES[-1] + 0.5, color="0.9", label=f"beyond the plain twin's reach ({PLAIN_REACH} px)")
ax.set(title="Accuracy on shape pixels, by distance to the nearest other class",
       xlabel="distance to the nearest pixel of another class (pixels)", ylabel="pixel accuracy", xlim=(0.5, DISTANCES[-1] + 0.5))
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=9)
plt.show()

# %% [markdown]
# Near the boundaries (distance 1 to 3) all three networks make most of their errors, and dilation
# changes little there. That is where most shape pixels are (counted above), and it is why the mean IoU
# gap between the twins is small. Farther inside the shapes the gap opens: the plain twin falls behind,
# while the dilated net, whose widest branch reaches 79 pixels, stays high. FCN-lite sees whole shapes
# from its 4×4 map, so it does well deep inside, but it paints the boundaries from coarse scores and is
# the weakest near the edges.
#
# This is DeepLab's point in small: the class of an interior pixel is decided by an outline far away, and
# dilation brings it into view without downsampling and without a single extra weight. Two milestones
# compare the twins: on the pixels beyond the plain twin's reach and, more steadily, on the far more
# numerous pixels 8 or more from another class (both printed below, with the mean IoU gap).
# On each of the five seeds we ran, the dilated twin's lead grew with the distance from the nearest other
# class (the "d ≥" line above), and beyond the reach it was more than twice its lead in mean IoU.

# %%
deep_gain = twin_gap(deep)
miou_gain = miou["DeepLab-lite"] - miou["DeepLab-lite, rates 1"]
print(f"dilated minus plain twin: accuracy {deep_gain:+.4f} on the {int(deep.sum()):,} interior pixels, mIoU {miou_gain:+.4f}")
checks.milestone("dilation_interior_gain", deep_gain, 0.02, ">=",
                 note=f"pixel accuracy of DeepLab-lite minus its rates-1 twin (same weights count, steps, minibatches) "
                      f"on shape pixels ≥ {INTERIOR_FROM} px from every other class (beyond the plain twin's reach)")
record.metric("dilation_miou_gain", round(miou_gain, 4))
# The interior holds only about 2,000 pixels, so its gap moves from seed to seed. Pixels 8 or more from
# every other class are about 30 times as many: a steadier test of the same effect.
d8_gain = twin_gap(shape_pixels & (test_distance >= 8))
checks.milestone("dilation_gain_d8", d8_gain, 0.03, ">=",
                 note="pixel accuracy of DeepLab-lite minus its rates-1 twin on shape pixels ≥ 8 px from every other class")

# %% [markdown]
# **How does the plain twin manage at all, deep inside?** Through the image-pooling branch: "there is a
# red triangle in this image" plus "I am red" is often enough, though not when two shapes of different
# classes share a colour. We can test that without retraining: replace every image's pooled vector by the
# same vector, the mean over 500 training scenes, so the branch no longer says anything about *this*
# image, and score the interior pixels again.

# %%
frozen_predictions = {}  # class maps of the held-out scenes with the pooled vector fixed (kept for section 11)
with torch.no_grad():
    for name in ("DeepLab-lite", "DeepLab-lite, rates 1"):
        model = models[name]
        model.eval()
        model.aspp.fixed_pool = model.features(train_images[:500]).mean((0, 2, 3), keepdim=True)
        blind = predict(model, test["images"])
        model.aspp.fixed_pool = None
        frozen_predictions[name] = blind
        print(f"{name:22s}: interior accuracy {deep_accuracy[name]:.3f} with its image pooling, "
              f"{float((blind == test['masks'])[deep].float().mean()):.3f} with a fixed pooled vector; "
              f"mIoU {miou[name]:.3f} -> {mean_iou(confusion_matrix(test['masks'], blind)):.3f}")

# %% [markdown]
# Without the image-level context, the plain twin's interior accuracy drops sharply, while the dilated
# network's hardly moves (printed above): its convolutions see the outline themselves. DeepLab v3 added
# the pooling branch for exactly this kind of global context; here it partly stands in for the dilation
# the plain twin lacks.
#
# **The effective receptive field.** Luo et al. (2016) showed that the pixels that really matter to an
# output form a roughly Gaussian blob much smaller than the theoretical RF. We measure it on the trained
# twins: the gradient of the centre pixel's scores with respect to the input, averaged over 32 held-out
# scenes, with the pooled vector frozen as before so that we see the convolutions alone. The dashed
# squares are the windows measured as in section 7 (the first and last input pixel whose gradient is not
# zero): 21 px for the plain twin, the whole image for the dilated net.

# %%
def effective_rf(model, images):
    """Mean |gradient| of the centre output pixel's scores w.r.t. the input, the pooled vector frozen."""
    with torch.no_grad():
        model.aspp.fixed_pool = model.features(images).mean((0, 2, 3), keepdim=True)
    grad = input_gradient(model, images, SIZE // 2, SIZE // 2)
    model.aspp.fixed_pool = None
    return grad / grad.max()


erf_images = test["images"][:32].to(device)
fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
for ax, name in zip(axes, ("DeepLab-lite, rates 1", "DeepLab-lite")):
    erf = effective_rf(models[name], erf_images)
    erf_image = ax.imshow(erf.sqrt().numpy(), cmap="magma", vmin=0, vmax=1)
    first, last = gradient_window(models[name], erf_images, SIZE // 2)
    ax.add_patch(plt.Rectangle((first - 0.5, first - 0.5), last - first + 1, last - first + 1,
                               fill=False, ec="white", ls="--", lw=1.2))
    ax.set(title=f"{name}\nmeasured window {last - first + 1} px (dashed square)", xlabel="input x (pixels)", ylabel="input y (pixels)",
           xlim=(-0.5, SIZE - 0.5), ylim=(SIZE - 0.5, -0.5))
    ax.grid(False)
fig.colorbar(erf_image, ax=axes, shrink=0.8, label="√(|gradient| / max gradient)")
fig.suptitle("How much each input pixel moves the centre output pixel (gradients, image pooling frozen)")
plt.show()

# %% [markdown]
# ## 11. The masks themselves
#
# Four held-out scenes, then the scene where DeepLab-lite makes the most errors. Each prediction's title
# counts its wrong pixels. Look at the boundaries, the corners, and the insides of the large shapes.

# %%
errors = {name: (predictions[name] != test["masks"]).sum((1, 2)) for name in MODEL_NAMES}
worst_scene = int(errors["DeepLab-lite"].argmax())


def draw_row(axes, i):
    """Image, truth and the three predictions of held-out scene i on five axes."""
    show_image(axes[0], test["images"][i], f"held-out scene {i}")
    show_classes(axes[1], test["masks"][i], "truth")
    for ax, name in zip(axes[2:], MODEL_NAMES):
        show_classes(ax, predictions[name][i], f"{name}\n{int(errors[name][i])} wrong pixels")


figure_scenes = [0, 1, 2, 3, worst_scene]
fig, axes = plt.subplots(len(figure_scenes), 5, figsize=(11, 2.7 * len(figure_scenes) + 0.8))
for row, i in enumerate(figure_scenes):
    draw_row(axes[row], i)
axes[-1, 0].set_ylabel("DeepLab-lite's\nworst scene")
fig.suptitle("Held-out scenes: truth and predicted class maps (the last row is DeepLab-lite's worst scene)")
class_legend(fig)
fig.subplots_adjust(left=0.06, right=0.99, top=0.93, bottom=0.05, wspace=0.06, hspace=0.42)
plt.show()

# %% [markdown]
# The failures are instructive: a triangle's straight base and a square's bottom edge look alike up
# close, overlapping shapes of one colour merge into a single blob whose outline fits neither class, and a
# tiny visible sliver of a hidden shape carries almost no evidence at all.
#
# **Explore: how far from an edge does dilation start to matter, and what does the pooling add?**
# Section 10 drew accuracy against distance for three networks, and gave the frozen pooling's effect as
# a few numbers. The slider picks a distance d. The bars give the accuracy of all five stored variants
# (FCN-lite, and each DeepLab twin with its own pooled vector or the fixed one) on every held-out shape
# pixel at distance d or more from another class; below, the error maps of the four DeepLab variants on
# the held-out scene where the plain twin misses the most pixels 8 or more from another class that the
# dilated twin gets right (chosen for that), the pixels at distance ≥ d outlined. Every class map
# was stored in sections 9 and 10; moving the slider only redraws them. Because the scene is picked where
# the plain twin fails, its pooled vector is often part of the failure: on most of the seeds we ran, the
# plain twin does *better* on this scene with the pooling frozen, the opposite of the bars. The bars are
# the rule; the scene is an exception, where the pooled summary of the image pointed to the wrong class.

# %%
VARIANTS = {  # variant: its stored class maps of the held-out scenes
    "FCN-lite": predictions["FCN-lite"],
    "DeepLab-lite": predictions["DeepLab-lite"],
    "DeepLab-lite, pooling frozen": frozen_predictions["DeepLab-lite"],
    "DeepLab-lite, rates 1": predictions["DeepLab-lite, rates 1"],
    "DeepLab-lite, rates 1, pooling frozen": frozen_predictions["DeepLab-lite, rates 1"],
}
SHORT = {"FCN-lite": "FCN-lite", "DeepLab-lite": "dilated twin", "DeepLab-lite, pooling frozen": "dilated, pooling frozen",
         "DeepLab-lite, rates 1": "plain twin (rates 1)", "DeepLab-lite, rates 1, pooling frozen": "plain, pooling frozen"}
SLIDER_DISTANCES = [int(d) for d in DISTANCES]  # the distances of section 10
# The scene where the plain twin misses the most pixels (8 or more from another class) that the dilated twin gets right
plain_only_wrong = (shape_pixels & (test_distance >= 8) & (predictions["DeepLab-lite"] == test["masks"])
                    & (predictions["DeepLab-lite, rates 1"] != test["masks"]))
explore_scene = int(torch.argmax(plain_only_wrong.sum((1, 2))))
accuracy_beyond = {  # (variant, d): accuracy on held-out shape pixels at distance >= d, computed once
    (v, d): float((pred == test["masks"])[shape_pixels & (test_distance >= d)].float().mean())
    for v, pred in VARIANTS.items() for d in SLIDER_DISTANCES}
WRONG_RGB, SHAPE_RGB, BACKGROUND_RGB = np.array([0.85, 0.0, 0.0]), np.full(3, 0.62), np.full(3, 0.93)


def draw_distance(d):
    """Accuracy of the five variants at distance >= d, and four error maps of one scene with that region outlined."""
    i = explore_scene
    region = (shape_pixels[i] & (test_distance[i] >= d)).float().numpy()
    fig = plt.figure(figsize=(12, 6.4))
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.1])
    ax = fig.add_subplot(grid[0, 0])
    show_image(ax, test["images"][i], f"held-out scene {i}")
    ax.contour(region, levels=[0.5], colors="white", linewidths=1.2)
    ax = fig.add_subplot(grid[0, 2:])  # column 1 is left for the bar labels
    values = [accuracy_beyond[(v, d)] for v in VARIANTS]
    ax.barh(range(len(VARIANTS)), values, hatch=["", "", "//", "", "//"],  # hatched: pooling frozen
            color=[MODEL_COLORS[n] for n in ("FCN-lite", "DeepLab-lite", "DeepLab-lite", "DeepLab-lite, rates 1",
                                             "DeepLab-lite, rates 1")])
    for k, value in enumerate(values):
        inside_bar = value > 0.15
        ax.text(value - 0.01 if inside_bar else value + 0.01, k, f"{value:.3f}", va="center",
                ha="right" if inside_bar else "left", color="white" if inside_bar else "black", fontsize=9)
    ax.set(yticks=range(len(VARIANTS)), yticklabels=[SHORT[v] for v in VARIANTS], xlim=(0, 1), xlabel="pixel accuracy",
           title=f"All held-out shape pixels at distance ≥ {d} from another class "
                 f"({int((shape_pixels & (test_distance >= d)).sum()):,} pixels; hatched: pooling frozen)")
    ax.invert_yaxis()
    for col, v in enumerate(list(VARIANTS)[1:]):
        ax = fig.add_subplot(grid[1, col])
        pred = VARIANTS[v][i]
        wrong = (pred != test["masks"][i]).numpy()[..., None]
        base = np.where(shape_pixels[i].numpy()[..., None], SHAPE_RGB, BACKGROUND_RGB)
        ax.imshow(np.where(wrong, WRONG_RGB, base), interpolation="nearest")
        ax.contour(region, levels=[0.5], colors="black", linewidths=1.0)
        inside = torch.from_numpy(region > 0)
        acc = float((pred == test["masks"][i])[inside].float().mean()) if inside.any() else float("nan")
        ax.set(title=f"{SHORT[v]}\nerrors (red); acc. at ≥ {d}: {acc:.3f}",
               xticks=[], yticks=[])
        ax.grid(False)
    fig.suptitle("Where the twins go wrong: errors in red, pixels at distance ≥ d outlined\n"
                 "('pooling frozen': the same fixed pooled vector for every image, as in section 10)", fontsize=11)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.86, bottom=0.04, wspace=0.25, hspace=0.4)


widgets.explore(draw_distance, SLIDER_DISTANCES, 8, "distance d (pixels)");  # ";": show the control once

# %% [markdown]
# ## 12. Polygon-RNN++: annotating with polygons
#
# Every network above learned from class maps. Real data sets get theirs from people, and people draw
# **polygons**: click the outline's corners, and the software fills the inside. Polygon-RNN and
# Polygon-RNN++ make the network propose those clicks, one vertex at a time: a CNN encodes the object's
# crop; a recurrent decoder outputs the next vertex as one cell of a 28×28 grid (or "end of polygon"),
# given the previous two vertices and the first one. When a vertex is wrong, the annotator drags it to
# the right place and the decoder continues from the corrected vertex. We do not train such a decoder
# here; we measure the three things it rests on, with the true polygons that `data.shapes_scenes`
# records for every shape (a circle is drawn as a 16-gon):
#
# 1. **Polygon to mask.** Filling a polygon is the classic even-odd test: a point is inside if a ray from
#    it crosses the outline an odd number of times. We check our fill against matplotlib's
#    `Path.contains_points`, then against the generator's own pixel masks.
# 2. **Clicks against pixels.** A polygon costs one click per vertex; a mask assigns every pixel.
# 3. **Grid resolution and one correction.** Snapping vertices to a G×G grid over the object (as the
#    decoder's output does) costs accuracy; how much, and how much does moving one vertex win back?

# %%
def inside_polygon(polygon, xs, ys):
    """Even-odd rule: which points (xs, ys) (arrays of one shape) lie inside the polygon [(x, y), ...]?

    For every edge, a point toggles when the edge straddles its height and crosses the ray going right."""
    inside = np.zeros(np.shape(xs), bool)
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1]):
        straddles = (y1 > ys) != (y2 > ys)
        with np.errstate(divide="ignore", invalid="ignore"):  # horizontal edges never straddle
            x_cross = x1 + (ys - y1) * (x2 - x1) / (y2 - y1)
        inside ^= straddles & (xs < x_cross)
    return inside


rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)  # the generator puts pixel (row, col) at (x, y) = (col, row)
rng = np.random.default_rng(SEED)
fill_mismatches = 0
for _ in range(200):  # random star-shaped polygons with 3 to 12 vertices, some concave
    n = int(rng.integers(3, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(4, 30, n)
    polygon = [(32 + r * np.cos(a), 32 + r * np.sin(a)) for r, a in zip(radii, angles)]
    ours = inside_polygon(polygon, cols, rows)
    reference = PolygonPath(polygon).contains_points(np.stack([cols.ravel(), rows.ravel()], 1)).reshape(SIZE, SIZE)
    fill_mismatches += int((ours != reference).sum())
checks.check(fill_mismatches == 0, f"our polygon fill differs from matplotlib on {fill_mismatches} pixels",
             ok_message="Our even-odd fill matches matplotlib's Path.contains_points on 200 random polygons (0 pixels differ).")

# %% [markdown]
# Now the held-out shapes that are fully visible: their polygon, filled at the pixel positions, against
# the pixel mask the generator drew, and what each costs an annotator.

# %%
objects = [(i, k, o) for i, scene in enumerate(test["factors"]) for k, o in enumerate(scene) if o["visible"] == 1.0]
objects = objects[:300]  # enough for the means below
poly_iou, clicks, pixels = {c: [] for c in CLASS_NAMES[1:]}, {c: [] for c in CLASS_NAMES[1:]}, {c: [] for c in CLASS_NAMES[1:]}
for i, k, o in objects:
    truth_mask = (test["instances"][i] == k + 1).numpy()
    filled = inside_polygon(o["polygon"], cols, rows)
    poly_iou[o["shape"]].append((filled & truth_mask).sum() / (filled | truth_mask).sum())
    clicks[o["shape"]].append(len(o["polygon"]))
    pixels[o["shape"]].append(int(truth_mask.sum()))
print(f"{len(objects)} fully visible held-out shapes")
for c in CLASS_NAMES[1:]:
    print(f"{c:9s}: {len(clicks[c]):3d} shapes; polygon vs pixel mask IoU {np.mean(poly_iou[c]):.3f}; "
          f"{np.mean(clicks[c]):4.1f} clicks against {np.mean(pixels[c]):5.0f} pixels (×{np.mean(pixels[c]) / np.mean(clicks[c]):.0f})")

# %% [markdown]
# Squares and triangles are their polygons, pixel for pixel; a circle's 16-gon sits just inside the
# circle, so its IoU is a little below 1 (printed above). Either way a few clicks replace hundreds of
# pixel decisions, on shapes only 15 to 32 pixels wide; on a 2048×1024 Cityscapes image the ratio is far
# larger. Polygon-RNN reported annotation 4.7 times faster across Cityscapes' classes, at 78.4 % IoU
# agreement with the original annotations.
#
# **Grid resolution.** The decoder picks each vertex among the cells of a G×G grid laid over the object
# (G = 28 in Polygon-RNN, over a crop a little larger than the object's box; we enlarge the box by a random
# 10 to 20 % on each side, so that the grid falls differently on every object). For 200 of the shapes we
# snap every vertex to the centre of its cell in such a grid and compare the snapped polygon with the
# true one, filling both on a fine 128×128 grid of points over the same box. Then an annotator makes one
# correction at G = 7: the vertex that moved farthest goes back to its true place.

# %%
GRIDS = (7, 14, 28, 56)
CORRECTED_GRID = 7


def crop_box(polygon, rng):
    """A crop around the polygon: its bounding box, enlarged by a random 10 to 20 % of its size on each side."""
    xs, ys = zip(*polygon)
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    left, top, right, bottom = rng.uniform(0.10, 0.20, 4)
    return min(xs) - left * w, min(ys) - top * h, max(xs) + right * w, max(ys) + bottom * h


def snap(polygon, box, g):
    """Move every vertex to the centre of its cell in a g × g grid over box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    cw, ch = (x1 - x0) / g, (y1 - y0) / g
    return [(x0 + (min(int((x - x0) / cw), g - 1) + 0.5) * cw, y0 + (min(int((y - y0) / ch), g - 1) + 0.5) * ch)
            for x, y in polygon]


def fine_points(box, samples=128):
    """A samples × samples grid of points over box (x0, y0, x1, y1): xs, ys."""
    x0, y0, x1, y1 = box
    u = (np.arange(samples) + 0.5) / samples
    ys, xs = np.meshgrid(y0 + u * (y1 - y0), x0 + u * (x1 - x0), indexing="ij")
    return xs, ys


def iou_of_fills(fa, fb):
    """IoU of two boolean fills."""
    return (fa & fb).sum() / (fa | fb).sum()


t0 = time.perf_counter()
grid_iou = {c: {g: [] for g in GRIDS} for c in CLASS_NAMES[1:]}
corrected_iou = {c: [] for c in CLASS_NAMES[1:]}
crop_rng = np.random.default_rng(SEED)
for i, k, o in objects[:200]:
    polygon = o["polygon"]
    box = crop_box(polygon, crop_rng)
    points = fine_points(box)
    true_fill = inside_polygon(polygon, *points)
    for g in GRIDS:
        snapped = snap(polygon, box, g)
        grid_iou[o["shape"]][g].append(iou_of_fills(true_fill, inside_polygon(snapped, *points)))
        if g == CORRECTED_GRID:
            worst = int(np.argmax([np.hypot(x - sx, y - sy) for (x, y), (sx, sy) in zip(polygon, snapped)]))
            fixed = snapped[:worst] + [polygon[worst]] + snapped[worst + 1:]
            corrected_iou[o["shape"]].append(iou_of_fills(true_fill, inside_polygon(fixed, *points)))
SECTION_SECONDS["polygons"] = time.perf_counter() - t0
for c in CLASS_NAMES[1:]:
    print(f"{c:9s}: IoU at G = " + ", ".join(f"{g}: {np.mean(grid_iou[c][g]):.3f}" for g in GRIDS)
          + f"; at G = {CORRECTED_GRID} after one corrected vertex: {np.mean(corrected_iou[c]):.3f}")

# %%
example = next(((i, k, o) for i, k, o in objects if o["shape"] == "triangle"), objects[0])
polygon = example[2]["polygon"]
box = crop_box(polygon, np.random.default_rng(SEED))
snapped = snap(polygon, box, CORRECTED_GRID)
worst = int(np.argmax([np.hypot(x - sx, y - sy) for (x, y), (sx, sy) in zip(polygon, snapped)]))
fixed = snapped[:worst] + [polygon[worst]] + snapped[worst + 1:]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.4]})
show_image(ax1, test["images"][example[0]], f"held-out scene {example[0]}: one {example[2]['shape']}, G = {CORRECTED_GRID}")
for g in range(CORRECTED_GRID + 1):
    for a, b in (((box[0] + g * (box[2] - box[0]) / CORRECTED_GRID,) * 2, (box[1], box[3])),
                 ((box[0], box[2]), (box[1] + g * (box[3] - box[1]) / CORRECTED_GRID,) * 2)):
        ax1.plot(a, b, color="0.75", lw=0.5)
for pts, style, color, label in ((polygon, "-", "white", "true polygon"), (snapped, "--", "black", "vertices snapped to the grid"),
                                 (fixed, ":", plot.COLORS[4], "after correcting one vertex")):
    closed = pts + pts[:1]
    ax1.plot([p[0] for p in closed], [p[1] for p in closed], style, color=color, marker="o", ms=4, lw=2, label=label)
ax1.set(xlim=(box[0] - 1, box[2] + 1), ylim=(box[3] + 1, box[1] - 1))
ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), fontsize=8, facecolor="0.9", frameon=True)
for shift, c, color in zip((0.95, 1.0, 1.05), CLASS_NAMES[1:], CLASS_COLORS[1:]):
    ax2.plot(GRIDS, [np.mean(grid_iou[c][g]) for g in GRIDS], "o-", color=color, label=f"{c}: vertices snapped")
    ax2.plot([CORRECTED_GRID * shift], [np.mean(corrected_iou[c])], "*", ms=13, color=color, label=f"{c}: one vertex corrected")
ax2.axvline(28, color="0.5", ls=":", lw=1, label="Polygon-RNN's 28 × 28 grid")
ax2.set_xscale("log")
ax2.minorticks_off()
ax2.set_xticks(GRIDS, [str(g) for g in GRIDS])
ax2.set(title="Polygon IoU after snapping to a G × G grid over the object", xlabel="grid cells across the object (G, log scale)",
        ylabel="IoU with the true polygon", ylim=(0.6, 1.005))
ax2.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))
fig.tight_layout()
plt.show()

# %% [markdown]
# A coarse grid costs real accuracy, and the loss shrinks as the grid gets finer (printed above): a
# vertex can be off by half a cell, and on a G-cell grid that is a fraction of about 1/G of the object.
# That is why Polygon-RNN++ added a graph network that moves every vertex off the 28×28 grid to a finer
# position. At G = 7, correcting the one worst vertex helps a triangle or a square much more than a
# circle, which has 16 vertices to fix: the economics of interactive annotation, where the annotator's
# clicks go only where the model is wrong.
#
# ## 13. What the small scale changes
#
# * **No pre-training, tiny networks.** FCN and DeepLab fine-tuned VGG-16 or ResNet-101 trained on
#   ImageNet; FCN's authors found training from scratch "not feasible" for their networks. Ours have
#   tens of thousands of parameters and learn from scratch in a few hundred steps, which works only
#   because the shapes are simple.
# * **The data.** PASCAL VOC has 21 classes in real photos about 500 pixels wide; objects are textured,
#   deformable and cluttered, and some pixels are marked "ignore". Our three flat-coloured classes on grey
#   are separable by outline alone, and every scene is 64×64.
# * **No CRF, no decoder, one scale.** DeepLab v1 and v2 sharpened their boundaries with a fully connected
#   CRF, v2 also fused several input scales, and v3+ adds a decoder. We skip all three; our boundaries
#   come from a stride-2 map, upsampled bilinearly (DeepLab-lite) or by a learned transposed convolution
#   started as bilinear (FCN-lite), and the boundary pixels are where all three of our
#   networks make most of their errors.
# * **Our dilation result is the mechanism, not the number.** The mean IoU gain of the dilated twin is
#   small here (printed in section 10) because most of our shape pixels are close to an edge, and because
#   the image-pooling branch gives the plain twin a shortcut through colour. On real photos the context a
#   pixel needs (a road, a room) is far larger than ours, and the papers' gains from larger fields of view
#   were larger too.
# * **Our FCN is not the paper's trade-off.** FCN-8s was built on a 1/32 classifier for lack of a better
#   option; our FCN-lite is simply a small encoder-decoder. The comparison shows the direction (dense
#   features help, at a price in compute), not the papers' margin.
#
# ## 14. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: the output size of a convolution
#
# A convolution with kernel k, stride s, padding p and dilation d maps n input pixels to
# `⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1` output pixels. Write it, and the padding that keeps the size at
# stride 1 for an odd kernel.

# %% tags=["exercise"]
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of output pixels along one axis."""
    # TODO: return floor((n + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1, as an int
    return None


def same_padding(kernel, dilation):
    """The padding that keeps the size at stride 1 (odd kernel)."""
    # TODO: a dilated kernel spans dilation·(kernel − 1) + 1 pixels; half of the extra goes to each side
    return None

# %% tags=["solution"]
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of output pixels along one axis."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def same_padding(kernel, dilation):
    """The padding that keeps the size at stride 1 (odd kernel)."""
    return dilation * (kernel - 1) // 2

# %% tags=["check"]
_cases = [(64, 3, 2, 1, 1), (32, 3, 1, 12, 12), (19, 3, 1, 0, 3), (23, 5, 2, 2, 2), (8, 4, 2, 1, 1), (50, 7, 3, 3, 2)]
checks.check(conv_output_size(64, 3, 2, 1, 1) is not None, "conv_output_size returned None: the TODO is not done yet.",
             ok_message="conv_output_size returns a number.", hint="Use integer division //.")
_expected = [F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]
             for n, k, s, p, d in _cases]
checks.check_close([conv_output_size(*c) for c in _cases], _expected, "output sizes of six convolutions (as F.conv2d gives them)",
                   hint="A dilated kernel spans d·(k − 1) + 1 pixels; the stride divides what is left after the first position.")
checks.check(same_padding(3, 1) is not None, "same_padding returned None: the TODO is not done yet.",
             ok_message="same_padding returns a number.")
checks.check_close([conv_output_size(32, k, 1, same_padding(k, d), d) for k, d in ((3, 1), (3, 4), (3, 12), (5, 3), (7, 2))],
                   [32] * 5, "sizes with your 'same' padding for five kernels and dilations",
                   hint="For k = 3 and dilation d the answer is d: DeepLab-lite uses padding = dilation.")

# %% [markdown]
# ### Exercise 2: FCN's four scores
#
# FCN's Table 2 (and its NYUDv2 and SIFT Flow tables) reports four numbers, all from the confusion
# matrix C (rows: truth): **pixel accuracy** `Σ C[c,c] / Σ C`; **mean accuracy**, the mean over classes
# of `C[c,c] / Σ_p C[c,p]` (each class's recall); **mean IU**; and **frequency-weighted IU**, the IoUs
# weighted by each class's share of the true pixels. Write `fcn_scores`. The check compares them with scikit-learn's `accuracy_score` and
# `balanced_accuracy_score` (which is the mean recall) on DeepLab-lite's predictions.

# %% tags=["exercise"]
def fcn_scores(cm):
    """Pixel accuracy, mean accuracy, mean IU and frequency-weighted IU of a confusion matrix (floats)."""
    cm = cm.double()
    # TODO: compute the four numbers from cm (per_class_iou(cm) gives the IoUs) and return them as a tuple
    return None

# %% tags=["solution"]
def fcn_scores(cm):
    """Pixel accuracy, mean accuracy, mean IU and frequency-weighted IU of a confusion matrix (floats)."""
    cm = cm.double()
    truth_counts = cm.sum(1)
    pixel_accuracy = cm.diag().sum() / cm.sum()
    mean_accuracy = (cm.diag() / truth_counts).mean()
    iou = per_class_iou(cm)
    frequency_weighted = (truth_counts / truth_counts.sum() * iou).sum()
    return float(pixel_accuracy), float(mean_accuracy), float(iou.mean()), float(frequency_weighted)

# %% tags=["check"]
from sklearn.metrics import accuracy_score, balanced_accuracy_score  # noqa: E402  (only the check needs them)

_yours = fcn_scores(confusions["DeepLab-lite"])
checks.check(_yours is not None, "fcn_scores returned None: the TODO is not done yet.", ok_message="fcn_scores returns four numbers.",
             hint="Return a tuple (pixel_accuracy, mean_accuracy, mean_iu, frequency_weighted_iu).")
_t, _p = test["masks"].flatten().numpy(), predictions["DeepLab-lite"].flatten().numpy()
_iou = per_class_iou(confusions["DeepLab-lite"]).numpy()
_share = np.bincount(_t, minlength=N_CLASSES) / len(_t)
checks.check_close(_yours, [accuracy_score(_t, _p), balanced_accuracy_score(_t, _p), _iou.mean(), float((_share * _iou).sum())],
                   "pixel accuracy, mean accuracy, mean IU, frequency-weighted IU of DeepLab-lite", atol=1e-6,
                   hint="Mean accuracy divides the diagonal by the row sums (the true pixels of each class); "
                        "frequency-weighted IU weighs each IoU by its class's share of the true pixels.")
print("DeepLab-lite: pixel accuracy {:.4f}, mean accuracy {:.4f}, mean IU {:.4f}, frequency-weighted IU {:.4f}".format(*_yours))

# %% [markdown]
# The frequency-weighted IU sits close to the pixel accuracy: both are dominated by the background. That
# is why the field settled on the plain mean IU.
#
# ### Exercise 3: holes in a stack of dilated convolutions
#
# Stack two 3×3 convolutions with dilation 2 and the output still only reads input pixels at *even*
# offsets: the odd ones are never seen. This **gridding** effect is why Wang et al. (2017, "hybrid dilated
# convolution") choose rates with no common factor, such as 1, 2, 5. Along one axis, a stack with rates
# r₁, r₂, ... reads every offset that is a sum `a₁ r₁ + a₂ r₂ + ...` with each aᵢ in {−1, 0, 1}. Write
# `reachable_offsets(rates)`: the sorted list of those offsets.

# %% tags=["exercise"]
def reachable_offsets(rates):
    """Sorted input offsets (along one axis) that a stack of 3-tap convolutions with these rates reads."""
    # TODO: start from {0}; for each rate, replace the set by {o + a·rate for o in it, a in (−1, 0, 1)}
    return None

# %% tags=["solution"]
def reachable_offsets(rates):
    """Sorted input offsets (along one axis) that a stack of 3-tap convolutions with these rates reads."""
    offsets = {0}
    for rate in rates:
        offsets = {o + a * rate for o in offsets for a in (-1, 0, 1)}
    return sorted(offsets)

# %% tags=["check"]
def _reachable_by_convolution(rates):
    """Reference: push an impulse through 1-D convolutions with all-one 3-tap kernels, see where it lands."""
    span = sum(rates)
    x = torch.zeros(1, 1, 2 * span + 1)
    x[0, 0, span] = 1.0
    for rate in rates:
        x = F.conv1d(x, torch.ones(1, 1, 3), padding=rate, dilation=rate)
    return (torch.nonzero(x[0, 0] > 0)[:, 0] - span).tolist()


checks.check(reachable_offsets([2, 2]) is not None, "reachable_offsets returned None: the TODO is not done yet.",
             ok_message="reachable_offsets returns a list.", hint="Start from the set {0} and grow it one rate at a time.")
for _rates in ([2, 2], [1, 2, 5], [2, 4], [1] + list(DEEPLAB_RATES)):
    checks.check(reachable_offsets(_rates) == _reachable_by_convolution(_rates),
                 f"reachable_offsets({_rates}) = {reachable_offsets(_rates)}, expected {_reachable_by_convolution(_rates)}",
                 ok_message=f"rates {_rates}: {len(reachable_offsets(_rates))} offsets from {min(reachable_offsets(_rates))} "
                            f"to {max(reachable_offsets(_rates))}, {'no holes' if len(reachable_offsets(_rates)) == 2 * sum(_rates) + 1 else 'with holes'}",
                 hint="Each rate adds −rate, 0 or +rate to every offset reached so far.")

# %% [markdown]
# In DeepLab-lite the rates 2 and 4 come after an undilated 3×3 layer on the stride-2 map: with it, the
# stack `[1, 2, 4]` has no holes, while `[2, 4]` alone would (checked above).
#
# ## Going further
#
# * **The original code.** FCN: [shelhamer/fcn.berkeleyvision.org](https://github.com/shelhamer/fcn.berkeleyvision.org)
#   (Caffe). DeepLab v1 and v2: Caffe code from the authors; v3 and v3+:
#   [tensorflow/models/research/deeplab](https://github.com/tensorflow/models/tree/master/research/deeplab).
#   Polygon-RNN++: [fidler-lab/polyrnn-pp](https://github.com/fidler-lab/polyrnn-pp).
# * **Library versions of our cells.** `torch.nn.Conv2d(..., dilation=d)` and `nn.ConvTranspose2d` are the
#   layers of sections 4 and 5; `torchvision.models.segmentation` has `fcn_resnet50` and
#   `deeplabv3_resnet50` with pre-trained weights, and its `ASPP` module is the one of section 7 at full size.
# * **Follow-ups.** Ronneberger, Fischer & Brox, *U-Net* (2015, [arXiv:1505.04597](https://arxiv.org/abs/1505.04597)):
#   a symmetric encoder-decoder with skips at every scale. Yu & Koltun, *Multi-Scale Context Aggregation by
#   Dilated Convolutions* (2015, [arXiv:1511.07122](https://arxiv.org/abs/1511.07122)). Zhao et al., *Pyramid
#   Scene Parsing Network* (PSPNet; 2016 on arXiv, CVPR 2017;
#   [arXiv:1612.01105](https://arxiv.org/abs/1612.01105)). Wang et al., *Understanding Convolution for
#   Semantic Segmentation* (2017, [arXiv:1702.08502](https://arxiv.org/abs/1702.08502)): exercise 3's
#   hybrid dilated convolution. Luo et al., *Understanding the Effective Receptive Field in Deep
#   Convolutional Neural Networks* (2016, [arXiv:1701.04128](https://arxiv.org/abs/1701.04128)). Castrejón et
#   al., *Annotating Object Instances with a Polygon-RNN* (2017, [arXiv:1704.05548](https://arxiv.org/abs/1704.05548))
#   and Ling et al., *Fast Interactive Object Annotation with Curve-GCN* (2019,
#   [arXiv:1903.06874](https://arxiv.org/abs/1903.06874)). Kirillov et al., *Panoptic Segmentation* (2018,
#   [arXiv:1801.00868](https://arxiv.org/abs/1801.00868)).
# * **Try it.** `-p MAX_SHAPES 6` for more occlusion and more shared colours, or `-p STEPS 150` to see how
#   much of each network's score is training time. Previous lesson: **05, object detection**, a mask per
#   object instead of a class per pixel.
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
print("wall time of the expensive cells: " + ", ".join(f"{k} {v:.1f} s" for k, v in SECTION_SECONDS.items()))
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["atrous_conv_max_diff", "miou_matches_sklearn", "miou", "dilation_interior_gain",
                                                   "dilation_gain_d8"])
