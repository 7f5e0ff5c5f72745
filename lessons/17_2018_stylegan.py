# ---
# jupyter:
#   course:
#     idea: a mapping network, AdaIN written out and checked against F.instance_norm,
#       a learned constant input, per-layer noise; a small style-based GAN trained with
#       mixing regularisation on shapes with known factors; factor classifiers measure
#       which factors a mixed image takes from which latent; the progressive-growing
#       fade-in written out
#     number: '17'
#     papers:
#     - arxiv: '1710.10196'
#       authors: Tero Karras, Timo Aila, Samuli Laine, Jaakko Lehtinen
#       title: Progressive Growing of GANs for Improved Quality, Stability, and Variation
#       year: 2017
#     - arxiv: '1812.04948'
#       authors: Tero Karras, Samuli Laine, Timo Aila
#       title: A Style-Based Generator Architecture for Generative Adversarial Networks
#       year: 2018
#     title: StyleGAN ideas (and PG-GAN)
#     track: generative
#     year: 2018-19
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
# # 17 · 2018–19 · StyleGAN ideas (and PG-GAN): styles, noise and mixing
#
# **Papers**
#
# * Tero Karras, Timo Aila, Samuli Laine, Jaakko Lehtinen (2017). *Progressive Growing of GANs for Improved
#   Quality, Stability, and Variation.* ICLR 2018. [arXiv:1710.10196](https://arxiv.org/abs/1710.10196)
# * Tero Karras, Samuli Laine, Timo Aila (2018). *A Style-Based Generator Architecture for Generative
#   Adversarial Networks.* CVPR 2019. [arXiv:1812.04948](https://arxiv.org/abs/1812.04948)
#
# ## The problem before these papers
#
# By 2017 GANs (lessons 14 and 15) made convincing 64×64 images, but larger ones failed: at high resolution
# the discriminator tells real from fake by fine detail long before the generator has the overall layout
# right, and training falls apart. Even when it worked, the generator was a black box. The latent vector z
# went in at the first layer, and nobody could say which part of z decided the pose of a face and which
# its skin tone.
#
# ## The key ideas
#
# **Progressive growing (PG-GAN, 2017).** Train both networks at 4×4 first, then add layers for 8×8,
# 16×16, ... up to 1024×1024. Each new layer is **faded in**: the output is a blend
# (1 − α)·upsample(old output) + α·(new layer's output), with α going from 0 to 1, so the network that
# already works is never shocked by a fresh, random layer. The coarse layout is learnt first, the details
# last.
#
# **A style-based generator (StyleGAN, 2018).** Four changes to the generator, the discriminator untouched:
#
# 1. a **mapping network**, an 8-layer MLP, turns z into an intermediate latent w (both with 512 numbers);
# 2. the synthesis network starts from a **learned constant** 4×4 tensor instead of z;
# 3. w reaches every layer as a **style**: a learned affine map turns w into a scale and a bias for each
#    channel, applied by **adaptive instance normalisation** (AdaIN): normalise each channel of each image
#    to mean 0 and standard deviation 1, then apply the style's scale and bias;
# 4. **noise inputs**: fresh per-pixel Gaussian noise, scaled by a learned factor per channel, is added
#    after each convolution, for details that are random (the exact placement of hairs).
#
# Because AdaIN wipes out a channel's statistics before applying the next style, each style controls the
# image only until the next AdaIN. So one can feed **different** w's to different layers: **style mixing**.
# The paper uses it as a regulariser, **mixing regularisation**: a share of the training images (90 % in
# the paper's setup) is generated from two latents, switching from w₁ to w₂ at a random layer, so that the
# network cannot rely on neighbouring layers receiving the same style. On faces, styles fed to the coarse
# (4²–8²) layers set pose, face shape and glasses; the fine ones (64²–1024²) set the colour scheme and
# microstructure.
#
# ## What changed after
#
# StyleGAN's 1024×1024 faces (the paper also released FFHQ, 70,000 portraits) became the public face of
# GANs, and its w-space became a tool for editing images. StyleGAN2 (2019) replaced AdaIN by weight
# demodulation and dropped progressive growing; StyleGAN2-ADA (2020) and StyleGAN3 (2021) followed. From
# about 2021 diffusion models took over image generation, but style inputs by AdaIN-like modulation stayed
# in many of their networks.
#
# ## What we do here, and what scale changes
#
# Images where we *know* what varies: 16×16 colour pictures of one shape, drawn from 3 shapes × 4 colours ×
# 2 sizes × 4 positions. Small classifiers, trained on these real images, read the four factors back from
# any image.
#
# 1. The data and the factor classifiers.
# 2. The pieces: mapping network, AdaIN (checked against `F.instance_norm`), learned constant, noise inputs.
# 3. A small style-based GAN trained with mixing regularisation (non-saturating loss, R1 penalty).
# 4. **The reproduction**: mix styles and measure, over thousands of mixed pairs, which factors follow the
#    latent fed to the coarse layers and which follow the fine-layer latent; a style-mixing grid and a
#    widget to choose which layers take which style.
# 5. What noise does, and progressive growing's fade-in, written out on our generator.
#
# StyleGAN has 18 style layers from 4×4 to 1024×1024, two per resolution, and trained for days on 8 GPUs;
# ours has 6 layers, two per resolution from 4×4 to 16×16, and trains for 1,500 steps on one CPU thread (the
# training cell prints how long that took).

# %% [markdown]
# ## 中文导读
#
# 2017 年的 GAN 能生成 64×64 的图像，但分辨率一高就训练失败，而且潜变量 z 只从第一层输入，谁也说不清 z 的哪一部分决定姿态、
# 哪一部分决定肤色。**渐进式增长**（PG-GAN，Karras 等，2017）先在 4×4 上训练生成器和判别器，再逐步加层到 1024×1024；
# 新层以**淡入**方式加入：输出为 (1 − α)·上采样(旧输出) + α·新层输出，α 从 0 增到 1。
#
# **StyleGAN**（Karras、Laine、Aila，2018）只改生成器：(1) **映射网络**（8 层 MLP）把 z 变成中间潜变量 w；
# (2) 合成网络从一个**学习得到的常量输入**（4×4）开始；(3) w 经仿射变换成为每层每个通道的缩放和偏置，即**风格**，
# 由**自适应实例归一化**（AdaIN）施加：先把每张图每个通道归一化为均值 0、标准差 1，再乘以风格的缩放、加上偏置；
# (4) 每次卷积后加入按通道缩放的逐像素高斯噪声，即**噪声输入**，负责随机细节。AdaIN 抹掉上一层的统计量，
# 所以每个风格只影响到下一次 AdaIN，不同层可以使用不同的 w，这就是**风格混合**。训练时对一部分图像（论文的设置为
# 90 %）在随机的层从 w₁ 切换到 w₂，称为**混合正则化**。论文使用非饱和损失和 **R1 正则化**。
#
# 本课使用因素已知的合成数据：16×16 彩色图，每张一个图形（3 种形状 × 4 种颜色 × 2 种大小 × 4 个位置），并用在真实图像上
# 训练的小分类器读出这些因素。我们从零写出映射网络、AdaIN（与 `F.instance_norm` 核对）、常量输入和噪声输入，用非饱和损失
# 和 R1 正则化训练一个带混合正则化的小型风格生成器（与论文一样每个分辨率两个风格层，共 6 层），然后在上千对混合图像上测量：
# 粗层（两个 4×4 层）取潜变量 A、精细层（8×8 和 16×16 的四层）取潜变量 B 时，混合图像的颜色跟随 B，比偶然水平（预测类别
# 频率的平方和）至少高 0.10（里程碑），并且颜色跟随 B 的程度比跟随 A 至少高 0.40（第二个里程碑）。五个种子上前者在
# +0.52 到 +0.68 之间。在我们的小模型里，位置由 8×8 和 16×16 层决定，
# 4×4 层几乎不决定任何因素。不用混合正则化时，位置和一部分颜色留在 4×4 层，颜色跟随 B 的程度平均下降一半以上，五个种子中
# 有一个达不到里程碑。风格混合网格和交互控件让你选择每个分辨率使用哪个风格。最后写出渐进式增长的淡入公式并在我们的
# 生成器上演示，练习包括偶然水平和 w 空间中的**截断技巧**。论文的网络有 18 个风格层、生成 1024×1024 的人脸；
# 我们只有 6 层、16×16 的图形。所有数字都来自本课的运行结果。
#
# 之后：StyleGAN2（2019）用权重解调代替 AdaIN 并去掉了渐进式增长，随后有 StyleGAN2-ADA（2020）和 StyleGAN3（2021）；
# 大约从 2021 年起扩散模型接管了图像生成，但类似 AdaIN 的风格调制留在了它们的许多网络里。
#
# 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)。

# %%
# Imports. The course's plumbing (data, plots, checks) lives in the `course_utils` package of this
# repository; every idea of the lesson is written out in the cells below.
try:
    from course_utils import checks, lessons, params, plot, record, repro, widgets
except ImportError as exc:  # e.g. a hosted notebook service without the course installed
    raise ImportError(
        "This lesson needs the course's `course_utils` package. In the course folder run\n"
        "    make setup        (creates .venv with everything)\n"
        "or  pip install -e .  (installs course_utils into the current Python)\n"
        "then restart the kernel."
    ) from exc

import itertools
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): data, initialisation, noise and latents
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: a few steps of everything; every code path in seconds; milestones reported, not asserted
STEPS = 1500  # GAN training steps (one D step, then one G step), from 20 to 20000
BATCH = 32  # real and fake images per step, from 8 to 512
LR = 2e-3  # Adam learning rate of G's synthesis network and of D, from 1e-5 to 1e-2
MAPPING_LR_MULT = 0.1  # the mapping network's learning rate relative to LR, from 0.001 to 1
MIX_PROB = 0.9  # share of training images made from two latents (mixing regularisation), from 0 to 1
R1_GAMMA = 1.0  # weight of the R1 penalty on D's gradient at real images, from 0 to 100
R1_EVERY = 4  # apply R1 every this many D steps (lazy regularisation), from 1 to 64
CHANNELS = 32  # feature maps in the synthesis network (the last layer has half), from 8 to 256
LATENT = 16  # size of z, from 2 to 512
W_DIM = 32  # size of w and width of the mapping network, from 2 to 512
N_PAIRS = 1000  # mixed pairs measured for each style assignment, from 1000 to 20000
CLF_STEPS = 400  # training steps of the factor classifiers, from 20 to 5000

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=20, max=20000),
    BATCH=params.Int(min=8, max=512),
    LR=params.Float(min=1e-5, max=1e-2),
    MAPPING_LR_MULT=params.Float(min=0.001, max=1.0),
    MIX_PROB=params.Float(min=0.0, max=1.0),
    R1_GAMMA=params.Float(min=0.0, max=100.0),
    R1_EVERY=params.Int(min=1, max=64),
    CHANNELS=params.Int(min=8, max=256),
    LATENT=params.Int(min=2, max=512),
    W_DIM=params.Int(min=2, max=512),
    N_PAIRS=params.Int(min=1000, max=20000),
    CLF_STEPS=params.Int(min=20, max=5000),
)
LR, MAPPING_LR_MULT, MIX_PROB, R1_GAMMA = P["LR"], P["MAPPING_LR_MULT"], P["MIX_PROB"], P["R1_GAMMA"]  # ints -> floats
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("17")
plt.show()

# %% [markdown]
# ## 1. Data with known factors
#
# To ask "which latent decides the colour?" we need images whose colour we can read off. Each image is
# 16×16 pixels on a black background and shows one shape, chosen by four independent **factors**:
#
# * shape: square, circle or triangle; colour: red, green, blue or yellow; size: small or large;
#   position: one of the four quadrants (with a random shift of up to half a pixel, so the data are not
#   just 96 fixed pictures).
#
# The generator below draws each shape at 4× resolution and averages 4×4 blocks, so edges are smooth.
# Pixels are scaled to [−1, 1], as GANs usually expect. The generator is short and written out here, so you
# can see that the four factors are the only things that vary.

# %%
t_section = time.perf_counter()
RES = 16
FACTORS = {"shape": ["square", "circle", "triangle"], "colour": ["red", "green", "blue", "yellow"],
           "size": ["small", "large"], "position": ["top left", "top right", "bottom left", "bottom right"]}
RGB = torch.tensor([[0.95, 0.25, 0.2], [0.25, 0.8, 0.3], [0.25, 0.45, 1.0], [0.95, 0.85, 0.2]])
RADII = torch.tensor([2.5, 4.5])  # half-width of a small and of a large shape, in pixels
CENTRES = torch.tensor([[5.0, 5.0], [5.0, 11.0], [11.0, 5.0], [11.0, 11.0]])  # (row, column) of each quadrant


def make_shapes(n, seed, supersample=4):
    """n images (n, 3, 16, 16) in [-1, 1] and their factors {name: LongTensor (n,)}, all drawn uniformly."""
    gen = torch.Generator().manual_seed(seed)
    f = {name: torch.randint(0, len(values), (n,), generator=gen) for name, values in FACTORS.items()}
    centre = CENTRES[f["position"]] + torch.rand(n, 2, generator=gen) - 0.5
    r = RADII[f["size"]].view(-1, 1, 1)
    t = (torch.arange(RES * supersample) + 0.5) / supersample  # sub-pixel coordinates
    dy, dx = t.view(1, -1, 1) - centre[:, :1, None], t.view(1, 1, -1) - centre[:, 1:, None]
    masks = torch.stack([(dy.abs() <= 0.85 * r) & (dx.abs() <= 0.85 * r),  # square
                         dy ** 2 + dx ** 2 <= r ** 2,  # circle
                         (dy >= -r) & (dy <= 0.8 * r) & (dx.abs() <= 0.55 * (dy + r))], 1)  # triangle, apex up
    mask = masks[torch.arange(n), f["shape"]].float().unsqueeze(1)
    coverage = F.avg_pool2d(mask, supersample)  # share of each pixel the shape covers
    return coverage * RGB[f["colour"]].view(-1, 3, 1, 1) * 2 - 1, f


def to_display(x):
    """Images in [-1, 1] (n, 3, H, W) to an (n, H, W, 3) numpy array in [0, 1] for imshow."""
    return ((x.detach().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()


n_train, n_test = (600, 300) if SMOKE else (6000, 2000)
x_train, f_train = make_shapes(n_train, seed=SEED)
x_test, f_test = make_shapes(n_test, seed=SEED + 10_000)
checks.check_shape(x_train, (n_train, 3, RES, RES), "the training images")
_combos = len(set(zip(*[f_train[k].tolist() for k in FACTORS])))
print(f"{n_train} training and {n_test} test images; {_combos} of {3 * 4 * 2 * 4} factor combinations present; "
      f"pixel range [{x_train.min():.2f}, {x_train.max():.2f}]")
checks.check(x_train.min() >= -1 and x_train.max() <= 1, "pixels should lie in [-1, 1]",
             ok_message="pixels lie in [-1, 1]; the background is -1 (black).")

fig, axes = plt.subplots(3, 12, figsize=(12, 3.4))
for ax, img, i in zip(axes.flat, to_display(x_train[:36]), range(36)):
    ax.imshow(img)
    ax.set_title(f"{FACTORS['shape'][f_train['shape'][i]][:3]} {FACTORS['size'][f_train['size'][i]][:2]}",
                 fontsize=7)
    ax.axis("off")
fig.suptitle("36 training images (title: shape, size); colour and position vary too")
fig.tight_layout()
plt.show()
x_train, x_test = x_train.to(device), x_test.to(device)
f_train, f_test = ({k: v.to(device) for k, v in f.items()} for f in (f_train, f_test))
SECTION_SECONDS["1. Data"] = time.perf_counter() - t_section

# %% [markdown]
# ### Factor classifiers: a ruler for generated images
#
# One small convolutional network with four output heads, one per factor, trained on the real images only
# (with a little pixel noise added, so that slightly imperfect generated images do not confuse it). Later we
# apply it to generated and mixed images and compare the predicted factors; we never look at its training
# labels again.

# %%
t_section = time.perf_counter()


class FactorNet(nn.Module):
    """A small CNN reading the four factors off a 16×16 image: one logit vector per factor."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(32 * 4 * 4, 64), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(64, len(values)) for name, values in FACTORS.items()})

    def forward(self, x):
        h = self.body(x)
        return {name: head(h) for name, head in self.heads.items()}


torch.manual_seed(SEED)
clf = FactorNet().to(device)
opt_clf = torch.optim.Adam(clf.parameters(), lr=2e-3)
for step in range(20 if SMOKE else CLF_STEPS):
    idx = torch.randint(0, n_train, (64,), device=device)
    logits = clf(x_train[idx] + 0.1 * torch.randn(64, 3, RES, RES, device=device))
    loss = sum(F.cross_entropy(logits[k], f_train[k][idx]) for k in FACTORS)
    opt_clf.zero_grad(set_to_none=True)
    loss.backward()
    opt_clf.step()
clf.eval().requires_grad_(False)


@torch.no_grad()
def predict_factors(x, batch=1000):
    """The classifiers' predicted class of each factor for images x: {name: LongTensor (n,)}."""
    out = [clf(x[i:i + batch]) for i in range(0, len(x), batch)]
    return {k: torch.cat([o[k] for o in out]).argmax(1) for k in FACTORS}


clf_acc = {k: (v == f_test[k]).float().mean().item() for k, v in predict_factors(x_test).items()}
print("factor classifiers, accuracy on held-out real images:", ", ".join(f"{k} {a:.3f}" for k, a in clf_acc.items()))
for k, a in clf_acc.items():
    record.metric(f"classifier_acc_{k}", a)
SECTION_SECONDS["1b. Factor classifiers"] = time.perf_counter() - t_section

# %% [markdown]
# ## 2. The pieces of a style-based generator
#
# ### The mapping network
#
# z ~ N(0, I) is first normalised to unit average square (the paper normalises z the same way), then an
# MLP maps it to w. The paper uses 8 layers of 512 units; we use 3 layers of `W_DIM` units. Why bother?
# z has to fill a round Gaussian, whether or not the data's factors are shaped like one; w is free to take
# whatever shape the factors need. The paper also trains the mapping network with a learning rate 100 times
# smaller than the rest; ours uses `MAPPING_LR_MULT`.

# %%
t_section = time.perf_counter()


class MappingNetwork(nn.Module):
    """z (n, LATENT) -> w (n, W_DIM): normalise z, then an MLP with LeakyReLU."""

    def __init__(self, n_layers=3):
        super().__init__()
        layers = []
        for i in range(n_layers):
            layers += [nn.Linear(LATENT if i == 0 else W_DIM, W_DIM), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers[:-1])  # no activation after the last layer

    def forward(self, z):
        z = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        return self.net(z)


checks.check_shape(MappingNetwork().to(device)(torch.randn(5, LATENT, device=device)), (5, W_DIM),
                   "w = mapping(z): one w per z")

# %% [markdown]
# ### Adaptive instance normalisation (AdaIN)
#
# AdaIN comes from style transfer (Huang & Belongie, 2017, arXiv:1703.06868). For feature map x (one
# image, one channel i) and a style y = (y_s, y_b) with one scale and one bias per channel:
#
# AdaIN(xᵢ, y) = y_s,ᵢ · (xᵢ − μ(xᵢ)) / σ(xᵢ) + y_b,ᵢ,
#
# where μ and σ are the mean and standard deviation over that channel's pixels, *in this image alone*.
# After AdaIN, channel i of this image has mean exactly y_b,ᵢ and standard deviation y_s,ᵢ: whatever the
# earlier layers did to these statistics is erased and replaced by the style. In StyleGAN the style comes
# from w through a learned affine map "A", a separate one for each layer.
#
# **Checked against PyTorch.** `F.instance_norm` normalises each channel of each image (the "IN" in
# AdaIN); its own `weight` and `bias` are shared by all images, so the per-image style is applied after it.
# We compare on random feature maps with random styles, with the same ε = 1e-5 inside the square root.

# %%
def adain(x, scale, bias, eps=1e-5):
    """AdaIN: normalise each channel of each image of x (n, C, H, W), then apply the per-image style
    scale (n, C) and bias (n, C)."""
    mu = x.mean((2, 3), keepdim=True)
    var = x.var((2, 3), keepdim=True, unbiased=False)
    return scale[:, :, None, None] * (x - mu) / torch.sqrt(var + eps) + bias[:, :, None, None]


torch.manual_seed(SEED)
_x = 3 * torch.randn(8, 16, 8, 8, device=device) + 2
_scale, _bias = torch.randn(8, 16, device=device), torch.randn(8, 16, device=device)
_ours = adain(_x, _scale, _bias)
_torch = F.instance_norm(_x, eps=1e-5) * _scale[:, :, None, None] + _bias[:, :, None, None]
adain_diff = (_ours - _torch).abs().max().item()
print(f"AdaIN, ours vs F.instance_norm then the style: max |difference| {adain_diff:.1e} (float32)")
print(f"per-channel mean of the output minus the style's bias: max |{(_ours.mean((2, 3)) - _bias).abs().max():.1e}|; "
      f"std minus |scale|: max |{(_ours.std((2, 3), unbiased=False) - _scale.abs()).abs().max():.1e}|")
checks.milestone("adain_max_diff", adain_diff, 1e-5, "<=",
                 note="max |our AdaIN - (F.instance_norm(x) * scale + bias)| on random (8,16,8,8) maps, float32")

# %% [markdown]
# The output's per-channel mean and standard deviation equal the style's bias and |scale| (up to ε and
# float32 rounding, printed above). That is the whole trick: a style sets the statistics of each channel, and
# the next AdaIN will throw them away again.
#
# ### One synthesis layer: convolution, noise, activation, AdaIN
#
# Each layer of the synthesis network (optionally upsampling by 2 first, nearest-neighbour) does:
#
# 1. a 3×3 convolution;
# 2. **noise**: one channel of fresh N(0, 1) noise per image, the same for every channel but scaled by a
#    learned strength per channel (initialised at 0, so the network decides how much noise it wants);
# 3. LeakyReLU;
# 4. AdaIN with the style A(w) of this layer. The affine map A starts at scale 1, bias 0 and weights 0.
#
# The first layer has no convolution: its input is the **learned constant**, a 4×4×`CHANNELS` tensor that
# is the same for every image. Everything that varies between images arrives through the styles and the
# noise. Like the paper's, our synthesis network has two style layers per resolution: at 4×4 the constant
# and one convolution; at 8×8 and at 16×16 an upsampling convolution and a plain one. That makes six style
# layers, then a 1×1 convolution ("toRGB") to three colour channels. The paper's goes up to 1024×1024, 18
# layers in all.

# %%
class StyleLayer(nn.Module):
    """[upsample ×2] -> [3×3 conv] -> + noise · strength -> LeakyReLU -> AdaIN with style A(w)."""

    def __init__(self, c_in, c_out, conv=True, upsample=False):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1) if conv else None
        self.noise_strength = nn.Parameter(torch.zeros(c_out))
        self.style = nn.Linear(W_DIM, 2 * c_out)  # the affine map "A": w -> (scale, bias) per channel
        nn.init.zeros_(self.style.weight)
        with torch.no_grad():
            self.style.bias.copy_(torch.cat([torch.ones(c_out), torch.zeros(c_out)]))

    def forward(self, x, w, noise=None):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.conv is not None:
            x = self.conv(x)
        if noise is None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device)
        x = F.leaky_relu(x + self.noise_strength.view(1, -1, 1, 1) * noise, 0.2)
        scale, bias = self.style(w).chunk(2, dim=1)
        return adain(x, scale, bias)


LAYER_NAMES = ["4×4 const", "4×4 conv", "8×8 up", "8×8 conv", "16×16 up", "16×16 conv"]
LAYER_RES = [4, 4, 8, 8, 16, 16]  # the resolution of each style layer (and of its noise)
N_LAYERS = len(LAYER_NAMES)


class StyleGenerator(nn.Module):
    """Mapping network + synthesis network: learned 4×4 constant, six style layers (two per resolution), toRGB."""

    def __init__(self, ch=CHANNELS):
        super().__init__()
        self.mapping = MappingNetwork()
        self.const = nn.Parameter(torch.randn(1, ch, 4, 4))
        self.layers = nn.ModuleList([StyleLayer(ch, ch, conv=False), StyleLayer(ch, ch),  # 4×4
                                     StyleLayer(ch, ch, upsample=True), StyleLayer(ch, ch),  # 8×8
                                     StyleLayer(ch, ch // 2, upsample=True), StyleLayer(ch // 2, ch // 2)])  # 16×16
        self.to_rgb = nn.Conv2d(ch // 2, 3, 1)

    def features(self, ws, noises=None):
        """The feature maps after each style layer, for per-layer latents ws (n, N_LAYERS, W_DIM)."""
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noises is None else noises[i])
            out.append(x)
        return out

    def synthesis(self, ws, noises=None):
        return self.to_rgb(self.features(ws, noises)[-1])

    def forward(self, z):
        return self.synthesis(self.mapping(z).unsqueeze(1).expand(-1, N_LAYERS, -1))


torch.manual_seed(SEED)
_G = StyleGenerator().to(device)
_feats = _G.features(_G.mapping(torch.randn(5, LATENT, device=device)).unsqueeze(1).expand(-1, N_LAYERS, -1))
for name, f in zip(LAYER_NAMES, _feats):
    print(f"after layer {name:10s}: {tuple(f.shape)}")
checks.check_shape(_G(torch.randn(5, LATENT, device=device)), (5, 3, RES, RES), "G(z): a 16×16 RGB image per z")
print(f"parameters: mapping {sum(p.numel() for p in _G.mapping.parameters()):,}, "
      f"synthesis {sum(p.numel() for n, p in _G.named_parameters() if not n.startswith('mapping')):,}")

# %% [markdown]
# ### Style mixing
#
# Since each layer takes its own w, nothing forces them to be equal. `mix(w1, w2, crossover)` gives layers
# 0 … crossover − 1 the latent w₁ and the rest w₂; crossover may differ from image to image. Crossover
# `N_LAYERS` (6) means "no mixing". We check that a mix at crossover 0 or 6 reproduces the pure images.

# %%
def mix(w1, w2, crossover):
    """Per-layer latents (n, N_LAYERS, W_DIM): w1 before the crossover layer, w2 from it on."""
    layer = torch.arange(N_LAYERS, device=w1.device).view(1, -1, 1)
    return torch.where(layer < crossover.view(-1, 1, 1), w1.unsqueeze(1), w2.unsqueeze(1))


with torch.no_grad():
    _w1, _w2 = _G.mapping(torch.randn(2, 6, LATENT, device=device))
    _noises = [torch.randn(6, 1, s, s, device=device) for s in LAYER_RES]
    _pure1 = _G.synthesis(mix(_w1, _w2, torch.full((6,), N_LAYERS, device=device)), _noises)
    _pure2 = _G.synthesis(mix(_w1, _w2, torch.zeros(6, dtype=torch.long, device=device)), _noises)
checks.check_close(_pure1, _G.synthesis(_w1.unsqueeze(1).expand(-1, N_LAYERS, -1), _noises),
                   "crossover 6 = the image of w1 alone", atol=1e-6)
checks.check_close(_pure2, _G.synthesis(_w2.unsqueeze(1).expand(-1, N_LAYERS, -1), _noises),
                   "crossover 0 = the image of w2 alone", atol=1e-6)
SECTION_SECONDS["2. Pieces"] = time.perf_counter() - t_section

# %% [markdown]
# ## 3. Training with mixing regularisation
#
# **The losses.** StyleGAN trained on faces (FFHQ) with the non-saturating loss of lesson 14 and the **R1
# penalty** (R1 regularisation) of Mescheder, Geiger & Nowozin (2018, arXiv:1801.04406): D is also asked
# to keep its gradient with respect to *real* images small, (γ/2)·‖∇ₓD(x)‖², so it cannot build a cliff
# right at the data that makes the game oscillate. We compute it only every `R1_EVERY` D steps and
# multiply it by `R1_EVERY` to keep its average weight; this **lazy regularisation** is a StyleGAN2 trick
# that saves time.
#
# **Mixing regularisation.** For each fake image, with probability `MIX_PROB`, draw a second z and a
# crossover layer uniformly from 1 to 5, and generate the image from the mix. The discriminator judges
# the mixed images like any other fake; so the generator must make *every* mix look real, and cannot
# spread one factor over layers that may receive different styles.
#
# **The discriminator** is a plain convolutional network (StyleGAN kept PG-GAN's discriminator): 16 → 8 → 4
# pixels with strided convolutions, then one logit. Adam with β₁ = 0, β₂ = 0.99, as in the paper.
#
# To save time, one batch of fakes serves both steps: D learns from it (detached, so G gets no gradient),
# then G is scored on the same images by the updated D. We keep 8 fixed latents and draw their images at a
# few points of training.

# %%
t_section = time.perf_counter()


def make_discriminator(ch=CHANNELS):
    return nn.Sequential(nn.Conv2d(3, ch // 2, 3, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(ch // 2, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 16 -> 8
                         nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 8 -> 4
                         nn.Flatten(), nn.Linear(2 * ch * 4 * 4, 1))


def r1_penalty(D, x_real):
    """(1/2)·‖∇ₓ D(x)‖² averaged over real images: the R1 penalty without its γ."""
    x_real = x_real.detach().requires_grad_(True)
    grad, = torch.autograd.grad(D(x_real).sum(), x_real, create_graph=True)
    return 0.5 * grad.pow(2).sum((1, 2, 3)).mean()


# Checked on a linear critic D(x) = v·x + c, whose gradient is v everywhere: R1 must be ‖v‖²/2 exactly.
torch.manual_seed(SEED)
_linear_d = nn.Sequential(nn.Flatten(), nn.Linear(3 * RES * RES, 1)).to(device).double()
_v = _linear_d[1].weight.detach()
checks.check_close(r1_penalty(_linear_d, x_train[:16].double()).item(), 0.5 * _v.pow(2).sum().item(),
                   "R1 of a linear critic = ‖v‖²/2", atol=1e-12)


# %% [markdown]
# The training loop. `sample_fakes` draws a batch of fakes, most of them style mixes; `train_stylegan` runs
# one D step (with lazy R1) and one G step per iteration and keeps snapshots of 8 fixed latents.

# %%
def sample_fakes(G, n, mix_prob):
    """n fake images; each is a style mix with probability mix_prob, at a crossover drawn from 1 .. N_LAYERS - 1."""
    w1, w2 = G.mapping(torch.randn(2 * n, LATENT, device=device)).chunk(2)
    mixed = torch.rand(n, device=device) < mix_prob
    crossover = torch.where(mixed, torch.randint(1, N_LAYERS, (n,), device=device),
                            torch.full((n,), N_LAYERS, device=device))
    return G.synthesis(mix(w1, w2, crossover))


def train_stylegan(steps, mix_prob, seed, snapshot_steps=()):
    """Train G and D from scratch; return G, the loss history and snapshots of the fixed latents' images."""
    torch.manual_seed(seed)
    G, D = StyleGenerator().to(device), make_discriminator().to(device)
    opt_g = torch.optim.Adam([{"params": [p for n, p in G.named_parameters() if not n.startswith("mapping")]},
                              {"params": G.mapping.parameters(), "lr": LR * MAPPING_LR_MULT}],
                             lr=LR, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.0, 0.99))
    z_fixed = torch.randn(8, LATENT, device=device)
    noise_fixed = [torch.randn(8, 1, s, s, device=device) for s in LAYER_RES]
    history, snaps = [], {}
    for step in range(steps + 1):
        if step in snapshot_steps:
            with torch.no_grad():
                snaps[step] = G.synthesis(G.mapping(z_fixed).unsqueeze(1).expand(-1, N_LAYERS, -1), noise_fixed)
        if step == steps:
            break
        x_real = x_train[torch.randint(0, n_train, (BATCH,), device=device)]
        x_fake = sample_fakes(G, BATCH, mix_prob)  # one batch of fakes serves both steps
        loss_d = F.softplus(D(x_fake.detach())).mean() + F.softplus(-D(x_real)).mean()  # -log(1-D(G(z))) - log D(x)
        if R1_GAMMA > 0 and step % R1_EVERY == 0:
            loss_d = loss_d + R1_GAMMA * R1_EVERY * r1_penalty(D, x_real)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(x_fake)).mean()  # non-saturating -log D(G(z)), judged by the updated D
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        history.append((loss_d.item(), loss_g.item()))
    return G.eval(), np.array(history), snaps


train_steps = 30 if SMOKE else STEPS
snapshot_steps = sorted({0, train_steps // 10, train_steps // 4, train_steps // 2, train_steps})
_t0 = time.perf_counter()
G, history, snaps = train_stylegan(train_steps, MIX_PROB, SEED, snapshot_steps)
G.requires_grad_(False)
print(f"{train_steps} steps with MIX_PROB = {MIX_PROB} in {time.perf_counter() - _t0:.1f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
_k = max(1, train_steps // 40)
_smooth = lambda v: np.convolve(v, np.ones(_k) / _k, mode="valid")  # noqa: E731 (a running mean)
axes[0].plot(_smooth(history[:, 0]), label="D loss (with R1)")
axes[0].plot(_smooth(history[:, 1]), label="G loss (non-saturating)")
axes[0].set(xlabel="training step", ylabel=f"loss (running mean of {_k} steps)", title="The two losses")
axes[0].legend(loc="upper right", fontsize=8)
_gap = 2  # white pixels between the tiles
_sheet = np.ones((len(snapshot_steps) * (RES + _gap), 8 * (RES + _gap), 3))
for _r, _s in enumerate(snapshot_steps):
    for _c, _img in enumerate(to_display(snaps[_s])):
        _sheet[_r * (RES + _gap):_r * (RES + _gap) + RES, _c * (RES + _gap):_c * (RES + _gap) + RES] = _img
axes[1].imshow(_sheet)
axes[1].set(yticks=[(RES + _gap) * i + RES / 2 for i in range(len(snapshot_steps))], yticklabels=snapshot_steps, xticks=[],
            ylabel="training step", xlabel="8 fixed latents (same z, same noise)",
            title="Samples of the fixed latents as training goes")
axes[1].grid(False)
fig.tight_layout()
plt.show()
SECTION_SECONDS["3. Training"] = time.perf_counter() - t_section

# %% [markdown]
# At step 0 every image is the same coloured noise: the styles start at scale 1 and bias 0, so every z
# gives the same image, the constant pushed through random convolutions. By the first snapshot, a tenth
# of the way in, the images turn black with a coloured patch, and the patches then become separate blobs that
# differ from latent to latent. At the end most samples show one coloured blob near one of the four places,
# smaller and blurrier than the real shapes, some with a faint second blob. This is a generator of about
# 49,000 weights after `STEPS` steps on one CPU thread: far from the crisp data. The losses (left) drift as
# the two networks push against each other, without settling at zero as a classifier's loss would; they say
# little about image quality, which is why we measure with the factor classifiers instead.
#
# The classifiers read each factor off every generated image; below are the shares of each predicted class
# among 2 × `N_PAIRS` unmixed samples, next to the real data's (uniform by construction). A GAN this small
# and this briefly trained does not cover the factors evenly: on our five seeds, small shapes are always
# over-represented, and on some a whole position or colour is almost never drawn (a share near 0.00 above).
# Some samples also come out in colours between the data's four, such as cyan; the classifier then reports
# the nearest of the four.

# %%
t_section = time.perf_counter()
n_pairs = 200 if SMOKE else N_PAIRS
torch.manual_seed(SEED + 1)
with torch.no_grad():
    w_a, w_b = G.mapping(torch.randn(2 * n_pairs, LATENT, device=device)).chunk(2)
    pair_noise = [torch.randn(n_pairs, 1, s, s, device=device) for s in LAYER_RES]


RESOLUTIONS = [4, 8, 16]


def layer_latents(assign, wa, wb):
    """Per-layer latents (n, N_LAYERS, W_DIM) for an assignment per resolution, e.g. "ABB": 4×4 from wa, rest wb."""
    return torch.stack([wa if assign[RESOLUTIONS.index(r)] == "A" else wb for r in LAYER_RES], 1)


def synth_assign(assign):
    """Images whose resolution j takes the style of source A (assign[j] == 'A') or B, for every pair, same noise."""
    ws = layer_latents(assign, w_a, w_b)
    with torch.no_grad():
        return torch.cat([G.synthesis(ws[i:i + 1000], [n[i:i + 1000] for n in pair_noise])
                          for i in range(0, len(ws), 1000)])


pred_a, pred_b = predict_factors(synth_assign("AAA")), predict_factors(synth_assign("BBB"))
gen_share = {k: torch.bincount(torch.cat([pred_a[k], pred_b[k]]), minlength=len(v)).float().cpu() / (2 * n_pairs)
             for k, v in FACTORS.items()}
for k, v in FACTORS.items():
    print(f"{k:9s} generated: " + ", ".join(f"{name} {s:.2f}" for name, s in zip(v, gen_share[k]))
          + f"   (real: {1 / len(v):.2f} each)")

# %% [markdown]
# ## 4. The reproduction: which latent decides which factor?
#
# **The measurement.** Draw `N_PAIRS` pairs of latents (w_A, w_B) and one noise draw per pair. Make three
# images per pair with the same noise: source A (every layer takes w_A), source B (every layer takes w_B),
# and the **mix**, whose coarse layers take w_A and whose fine layers take w_B. We mix by resolution: both
# layers of a resolution take the same source, so an assignment such as `ABB` (4×4 from A, 8×8 and 16×16
# from B) has one letter per resolution. For each factor, the
# classifiers say whether the mix agrees with A, and whether it agrees with B.
#
# **Chance.** Even a mix that ignores B agrees with B sometimes, just because both are likely to show the
# commonest colour. If the mix's factor were independent of B's, they would agree with probability
# Σ_c p_c², the sum of the squared shares of the predicted classes (printed above; we take p_c over the
# unmixed images A and B). That is the **chance level**; what we report is agreement *minus* chance.
# Strictly, independence gives Σ_c m_c·b_c, with m_c the *mix's* own share of class c and b_c the source's;
# Σ p_c² is that sum when the mixes and both sources show the classes in the same proportions, which the
# shared generator nearly does. The cell prints both for colour, so you can see how close they are.
#
# **The milestone** (from the StyleGAN paper's claim that colour lives in the fine styles): with the
# default crossover (both 4×4 layers from A, the four 8×8 and 16×16 layers from B), the mix's colour
# agrees with B's at least 0.10 above chance.
#
# That alone would also hold if the colour were a blend that follows both sources a little. So a second
# milestone asks for a clear winner: colour agreement with B minus colour agreement with A at least 0.40.
# (This is what the style-based generator has to show. Whether mixing regularisation is needed for it is a
# separate question, answered by the five-seed comparison below.)

# %%
def agreement(assign):
    """For each factor: (agreement of the mix with A, with B) minus the chance level Σ p_c²."""
    pred_mix = pred_a if assign == "AAA" else pred_b if assign == "BBB" else predict_factors(synth_assign(assign))
    out = {}
    for k in FACTORS:
        chance = float((gen_share[k] ** 2).sum())
        out[k] = ((pred_mix[k] == pred_a[k]).float().mean().item() - chance,
                  (pred_mix[k] == pred_b[k]).float().mean().item() - chance, chance)
    return out


ASSIGNMENTS = ["".join(a) for a in itertools.product("AB", repeat=len(RESOLUTIONS))]  # all 8; "ABB" is the default
agree = {a: agreement(a) for a in ASSIGNMENTS}
print(f"{n_pairs} pairs; agreement minus chance (coarse layers from A, fine layers from B):")
print(f"{'assignment':>10s} {'resolutions from A':>24s} | " + " | ".join(f"{k:>15s}" for k in FACTORS))
for crossover in (1, 2):  # resolutions from A
    a = "A" * crossover + "B" * (len(RESOLUTIONS) - crossover)
    print(f"{a:>10s} {', '.join(f'{r}×{r}' for r in RESOLUTIONS[:crossover]):>24s} | "
          + " | ".join(f"A {agree[a][k][0]:+.2f} B {agree[a][k][1]:+.2f}" for k in FACTORS))
print("chance levels: " + ", ".join(f"{k} {agree['ABB'][k][2]:.2f}" for k in FACTORS))
colour_fine = agree["ABB"]["colour"][1]
colour_gap = agree["ABB"]["colour"][1] - agree["ABB"]["colour"][0]
print(f"colour: agreement with B minus agreement with A = {colour_gap:+.2f}")
_share = lambda pred: torch.bincount(pred, minlength=len(FACTORS["colour"])).float() / len(pred)  # noqa: E731
_mix_share = _share(predict_factors(synth_assign("ABB"))["colour"])
print(f"colour chance levels: Σ p_c² = {agree['ABB']['colour'][2]:.3f}; exact under independence, "
      f"Σ m_c·a_c = {(_mix_share * _share(pred_a['colour'])).sum():.3f} (with A) and "
      f"Σ m_c·b_c = {(_mix_share * _share(pred_b['colour'])).sum():.3f} (with B)")
checks.milestone("colour_follows_fine", colour_fine, 0.10, ">=",
                 note=f"agreement of the mix's colour with the fine-layer source B minus chance (sum of squared "
                      f"predicted-class shares), {n_pairs} pairs, both 4x4 layers from A, the 8x8 and 16x16 layers "
                      f"from B, MIX_PROB {MIX_PROB}, {train_steps} steps")
checks.milestone("colour_fine_minus_coarse", colour_gap, 0.40, ">=",
                 note="colour agreement of the mix with B minus with A (same mixes): the fine source clearly wins")
for k in FACTORS:
    record.metric(f"{k}_follows_coarse", agree["ABB"][k][0])
    if k != "colour":  # colour_follows_fine is the milestone above
        record.metric(f"{k}_follows_fine", agree["ABB"][k][1])

# %%
def draw_agreement(ax, assign):
    """Bars: agreement minus chance of the mix with A and with B, per factor."""
    xs = np.arange(len(FACTORS))
    ax.bar(xs - 0.2, [agree[assign][k][0] for k in FACTORS], 0.4, label="mix agrees with A")
    ax.bar(xs + 0.2, [agree[assign][k][1] for k in FACTORS], 0.4, label="mix agrees with B")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axhline(0.10, color="grey", linestyle=":", label="milestone for colour (0.10)")
    ax.set(xticks=xs, xticklabels=list(FACTORS), ylabel="agreement minus chance", ylim=(-0.35, 1.0),
           title=f"Which source does each factor follow?\nlayers " +
                 ", ".join(f"{r}×{r}: {s}" for r, s in zip(RESOLUTIONS, assign)))
    ax.legend(loc="upper right", fontsize=8)


fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, crossover in zip(axes, (1, 2)):
    draw_agreement(ax, "A" * crossover + "B" * (len(RESOLUTIONS) - crossover))
fig.suptitle(f"Style mixing, {n_pairs} pairs per panel: coarse resolutions from A, the rest from B")
fig.tight_layout()
plt.show()
SECTION_SECONDS["4. Mixing measured"] = time.perf_counter() - t_section

# %% [markdown]
# **Reading the bars** (this run's numbers are printed above; the five seeds we ran are tabulated in the
# section "Five seeds, with and without mixing regularisation" below).
#
# * **Colour follows the fine latent.** With the default mix (left panel: 4×4 from A, 8×8 and 16×16 from
#   B) the mix's colour agrees with B well above chance, and with A hardly at all. This is the milestone,
#   and the paper's finding that the fine styles carry the colour scheme. In the right panel only the two
#   16×16 layers come from B, and the colour still follows B most of the way: our generator paints the
#   colour mostly at the last resolution.
# * **Position is decided at 8×8 and 16×16, not at 4×4.** In the left panel position follows A only weakly.
#   In the right panel, where A also supplies the 8×8 styles, it follows A more. How much more depends on
#   the seed (see the five-seed table below): on some seeds the 8×8 layers fix the place, on others the
#   16×16 layers still move it.
# * **Shape and size do not sort into the coarse layers.** Both agree with A at about chance or a little
#   above; how much they follow B differs from seed to seed (this run's values are printed above). At 16×16 pixels a triangle differs from a square by a few pixels at the edge,
#   exactly what the fine layers draw, and a generator this briefly trained has not learnt to draw shapes
#   well anyway (the shares above).
#
# So the small model reproduces the paper's split for colour, and not for layout: its two 4×4 layers
# decide almost nothing. At 4×4 a quadrant is two pixels wide, so there is little "pose" to set there.
# Be clear about what the milestones prove, then. They show that the fine styles carry the colour. A generator
# that ignored its 4×4 styles altogether would pass them too, and ours nearly does. The coarse/fine split of
# the paper shows up only in the right panel (`AAB`): on every seed we ran, position there followed A more
# than B, but by anything from a little to a lot, too unevenly to assert with headroom.

# %% [markdown]
# ### The style-mixing grid
#
# The paper's Figure 3 in miniature: the top row shows five sources B, the left column five sources A;
# each image in the grid takes its coarse styles from its row's A and its fine styles from its column's B.
# The widget below lets you choose, resolution by resolution, which source the two style layers of that
# resolution take, and redraws the grid and the agreement bars (all 8 assignments were computed above).

# %%
t_section = time.perf_counter()
N_GRID = 5
with torch.no_grad():
    _gen = torch.Generator(device).manual_seed(SEED + 7)  # the grid's own latents, independent of the rest
    _grid_w = G.mapping(torch.randn(2 * N_GRID, LATENT, device=device, generator=_gen))
    _grid_noise = [torch.randn(1, 1, s, s, device=device).expand(N_GRID * N_GRID, -1, -1, -1) for s in LAYER_RES]
_wa_rows = _grid_w[:N_GRID].repeat_interleave(N_GRID, 0)  # row r: source A number r
_wb_cols = _grid_w[N_GRID:].repeat(N_GRID, 1)  # column c: source B number c
grid_images = {}
with torch.no_grad():
    _src_a = G.synthesis(_grid_w[:N_GRID].unsqueeze(1).expand(-1, N_LAYERS, -1), [n[:N_GRID] for n in _grid_noise])
    _src_b = G.synthesis(_grid_w[N_GRID:].unsqueeze(1).expand(-1, N_LAYERS, -1), [n[:N_GRID] for n in _grid_noise])
    for assign in ASSIGNMENTS:
        ws = layer_latents(assign, _wa_rows, _wb_cols)
        grid_images[assign] = to_display(G.synthesis(ws, _grid_noise)).reshape(N_GRID, N_GRID, RES, RES, 3)
src_a, src_b = to_display(_src_a), to_display(_src_b)


def draw_mixing(res_4="A", res_8="B", res_16="B"):
    assign = res_4 + res_8 + res_16
    fig = plt.figure(figsize=(12, 5.2))
    gs = fig.add_gridspec(N_GRID + 1, N_GRID + 1 + 6)
    for c in range(N_GRID):
        ax = fig.add_subplot(gs[0, c + 1])
        ax.imshow(src_b[c])
        ax.set_title(f"B{c + 1}", fontsize=9)
        ax.axis("off")
    for r in range(N_GRID):
        ax = fig.add_subplot(gs[r + 1, 0])
        ax.imshow(src_a[r])
        ax.set(xticks=[], yticks=[])
        ax.set_ylabel(f"A{r + 1}", fontsize=9, rotation=0, labelpad=12)
        ax.grid(False)
        for c in range(N_GRID):
            ax = fig.add_subplot(gs[r + 1, c + 1])
            ax.imshow(grid_images[assign][r, c])
            ax.axis("off")
    draw_agreement(fig.add_subplot(gs[1:, N_GRID + 2:]), assign)
    fig.suptitle(f"Style mixing: row = source A, column = source B; styles taken from {assign} "
                 f"(4×4, 8×8, 16×16)", fontsize=11)
    plt.show()


widgets.explore_grid(draw_mixing, {f"res_{r}": ["A", "B"] for r in RESOLUTIONS},
                     {"res_4": "A", "res_8": "B", "res_16": "B"})
SECTION_SECONDS["4b. Mixing grid"] = time.perf_counter() - t_section

# %% [markdown]
# In the default grid each column brings its B's colour, and often its place too, since position is set at
# 8×8 and 16×16; the rows (the coarse sources A) change little. **Explore**: give A the 8×8 layers too
# (`AAB`): do the shapes move to A's place, and how much colour do the 16×16 layers alone still bring from B?
# Give A only the 8×8 layers (`BAB`): what does A decide now? Try the "wrong way round", `BAA`, and compare
# the bars with `ABB`. `AAA` and `BBB` are the sources themselves (agreement with the source is then 1 minus
# chance).

# %% [markdown]
# ## 5. Noise inputs: stochastic detail
#
# The paper shows that the noise inputs change only details that are random anyway (the exact strands of
# hair), and not identity or pose. We check the same thing: for a few latents, redraw the noise 32 times and
# measure how much each pixel varies; compare with how much the pixels vary across *different* latents.
# The learned noise strengths (mean |strength| per layer) tell how much noise each layer chose to use.

# %%
t_section = time.perf_counter()
torch.manual_seed(SEED + 2)
with torch.no_grad():
    _w = G.mapping(torch.randn(4, LATENT, device=device))
    _ws = _w.repeat_interleave(32, 0).unsqueeze(1).expand(-1, N_LAYERS, -1)
    _imgs = G.synthesis(_ws).view(4, 32, 3, RES, RES)  # 32 noise draws per latent
    noise_std = _imgs.std(1).mean(1)  # (4, 16, 16): pixel std over noise draws, averaged over RGB
    across_latents = G(torch.randn(512, LATENT, device=device)).std(0).mean().item()
noise_ratio = noise_std.mean().item() / across_latents
print("mean |noise strength| per layer: " + ", ".join(f"{n} {l.noise_strength.abs().mean():.3f}"
                                                     for n, l in zip(LAYER_NAMES, G.layers)))
print(f"pixel std over 32 noise draws (same w): {noise_std.mean():.3f}; over 512 different latents: "
      f"{across_latents:.3f}; ratio {noise_ratio:.3f}, i.e. {1 / noise_ratio:.0f}× smaller")
record.metric("noise_to_latent_std_ratio", noise_ratio)
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for i in range(4):
    axes[0, i].imshow(to_display(_imgs[i, :1])[0])
    axes[0, i].set_title(f"latent {i + 1}, one noise draw", fontsize=9)
    im = axes[1, i].imshow(noise_std[i].cpu(), cmap="magma", vmin=0, vmax=noise_std.max().item())
    axes[1, i].set_title("pixel std over\n32 noise draws", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
fig.colorbar(im, ax=axes[1, :], shrink=0.9, label="pixel std\n(pixels in -1..1)")
fig.suptitle("Noise inputs change details, not the shape: where the pixels vary when only the noise is redrawn")
plt.show()
SECTION_SECONDS["5. Noise"] = time.perf_counter() - t_section

# %% [markdown]
# The variation from the noise sits on and around the blobs (the lower row), where a pixel is partly
# covered and the half-pixel shift of the data leaves room for randomness; it is tens of times smaller than
# the variation across latents (the ratio printed above). Our data have almost no texture, so the noise has
# little to do; on faces it draws hair, pores and freckles.
#
# ## 6. Progressive growing, written out
#
# PG-GAN trains at 4×4 first and adds a resolution at a time. When the 16×16 layers are added to a network
# that already draws 8×8 images, they start with random weights; plugged in at once, they would destroy
# the 8×8 picture. So the output is **faded in**:
#
# image = (1 − α) · upsample(toRGB₈(h₈)) + α · toRGB₁₆(layer₁₆(h₈)),
#
# where h₈ are the 8×8 features, toRGB are 1×1 convolutions, and α rises linearly from 0 to 1 over many
# steps. The discriminator gets the same blend on its input side (its real images too are blended between
# the downsampled and the full-resolution version), and then α stays at 1 until the next resolution.
#
# We did not grow our generator (at 16×16 it trains fine without), but we can show what a fade-in looks
# like on it. Our generator has no 8×8 toRGB, so we fit one: the 1×1 convolution from the 8×8 features
# (after the second 8×8 layer) that best reproduces the 2×2-averaged final image (least squares over 512
# images). Then we blend.

# %%
t_section = time.perf_counter()


def fade_in(low_rgb, high_rgb, alpha):
    """PG-GAN's transition: (1 - alpha) * (low-resolution image upsampled ×2) + alpha * new high-resolution image."""
    return (1 - alpha) * F.interpolate(low_rgb, scale_factor=2, mode="nearest") + alpha * high_rgb


with torch.no_grad():
    torch.manual_seed(SEED + 3)
    _ws = G.mapping(torch.randn(512, LATENT, device=device)).unsqueeze(1).expand(-1, N_LAYERS, -1)
    _feats = G.features(_ws)
    h8, final = _feats[3], G.to_rgb(_feats[5])  # after layer "8×8 conv" (512, C, 8, 8); the image (512, 3, 16, 16)
    target8 = F.avg_pool2d(final, 2)
    _X = torch.cat([h8.permute(0, 2, 3, 1).reshape(-1, h8.shape[1]), torch.ones(h8.numel() // h8.shape[1], 1,
                                                                               device=device)], 1)
    _coef = torch.linalg.lstsq(_X.cpu(), target8.permute(0, 2, 3, 1).reshape(-1, 3).cpu()).solution.to(device)
    low8 = (_X @ _coef).view(512, 8, 8, 3).permute(0, 3, 1, 2)  # toRGB₈ applied to h₈
fit_err = (low8 - target8).abs().mean().item()
print(f"fitted toRGB at 8×8: mean |error| against the 2×2-averaged final image {fit_err:.3f} (pixel range -1..1)")
checks.check_close(fade_in(low8[:8], final[:8], 0.0), F.interpolate(low8[:8], scale_factor=2), "fade_in at alpha 0",
                   atol=1e-6)
checks.check_close(fade_in(low8[:8], final[:8], 1.0), final[:8], "fade_in at alpha 1", atol=1e-6)
ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]
fig, axes = plt.subplots(4, len(ALPHAS), figsize=(8, 6.6))
for r in range(4):
    for c, alpha in enumerate(ALPHAS):
        axes[r, c].imshow(to_display(fade_in(low8[r:r + 1], final[r:r + 1], alpha))[0])
        axes[r, c].axis("off")
        if r == 0:
            axes[r, c].set_title(f"α = {alpha}")
fig.suptitle("Fading in the 16×16 layer: from the upsampled 8×8 output (α = 0) to the new layer's (α = 1)")
fig.tight_layout()
plt.show()
SECTION_SECONDS["6. Progressive growing"] = time.perf_counter() - t_section

# %% [markdown]
# At α = 0 the picture is the 8×8 image, blown up into 2×2 blocks; at α = 1 it is the 16×16 image. Our
# α = 0 images are rough, because our toRGB₈ is only a least-squares readout of features that were never
# trained to make an image (its error is printed above); in PG-GAN the 8×8 stage was a trained generator
# in its own right. In between, nothing jumps: the loss the new layer sees at first is the loss of a network that already
# works. PG-GAN used this to reach 1024×1024 faces (CelebA-HQ); StyleGAN kept it; StyleGAN2 replaced it by
# skip connections from every resolution's toRGB to the output, which keep the same coarse-to-fine
# training order without changing the architecture during training.

# %% [markdown]
# ## Five seeds, with and without mixing regularisation
#
# One run shows one generator. We ran this lesson (papermill, one CPU thread) on seeds 0 to 4 with the
# defaults, and again with `-p MIX_PROB 0.0` (no mixed images in training; everything else, the steps
# included, unchanged). Agreement of the mix with each source minus chance, at the default mix (both 4×4
# layers from A, the 8×8 and 16×16 layers from B), 1,000 pairs each:
#
# | seed | colour with B (milestone) | colour with A | position with A | with MIX_PROB 0: colour with B | colour with A | position with A |
# |---|---|---|---|---|---|---|
# | 0 | +0.64 | +0.03 | +0.03 | +0.39 | +0.08 | +0.37 |
# | 1 | +0.67 | −0.01 | +0.11 | +0.25 | +0.01 | +0.50 |
# | 2 | +0.68 | +0.00 | +0.01 | +0.50 | +0.01 | +0.33 |
# | 3 | +0.52 | −0.00 | +0.23 | +0.22 | +0.13 | +0.43 |
# | 4 | +0.58 | −0.02 | −0.01 | +0.09 | +0.34 | +0.61 |
#
# With mixing the milestone's value has mean +0.62 and standard deviation 0.07 over the five seeds; the
# worst seed (3) clears 0.10 by 0.42. Without mixing the mean is +0.29, and seed 4 misses the milestone.
# The second milestone, colour with B minus colour with A ≥ 0.40, holds on every seed with mixing (+0.52 to
# +0.68 from the table) and fails on four of the five without it.
#
# What mixing regularisation does here:
#
# * **It keeps colour out of the coarse layers.** With it, the mix's colour never follows A (at most +0.03).
#   Without it, colour follows B less on every seed, and on seed 4 the mix takes its colour more from
#   A than from B, so the milestone fails there.
# * **It moves position out of the 4×4 layers.** Without mixing, position follows the 4×4 styles clearly on
#   every seed; with mixing, less on every seed, and hardly at all on most. A generator trained on mixed images must make a plausible image
#   even when its 4×4 and 8×8 styles disagree, and ours learnt to let the later layers decide where to draw.
#   The paper's 18 layers leave more room for "coarse" than our two 4×4 layers.
#
# **Why two layers per resolution?** The paper has them, and so do we for a measured reason: while writing this
# lesson we tried one style layer at 8×8 and one at 16×16 (four in all). The colour milestone still held on
# our five seeds, but on one of them only just, with mixes whose colour followed neither source well. We do not
# know exactly why the second layer helps; one plausible reason is that it gives the fine styles room to
# paint the colour after the shape is drawn. Try it: delete the second 8×8 and 16×16 layers (and their
# entries in `LAYER_NAMES` and `LAYER_RES`).
#
# **What scale changes.** StyleGAN's 18 layers span 4×4 to 1024×1024, so "coarse", "middle" and "fine" are
# far apart and each has many layers; its faces have factors at every scale (pose, face shape, eyes, hair
# colour, skin texture). Our six layers span one factor of 4 in resolution, and our shapes are a few pixels
# wide, so shape and size have nowhere clearly coarse to live. The finding that carries over is the
# mechanism: because AdaIN resets each channel's statistics, a style rules only until the next AdaIN, and
# mixing regularisation keeps the factors that *can* be separated in separate layers.

# %% [markdown]
# ## 7. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: the chance level
#
# Write `chance_agreement(pred_x, pred_y, n_classes)`: for two LongTensors of predicted classes, return the
# agreement expected if the two were independent, Σ_c p_c², with p_c the share of class c among **all** the
# predictions of both tensors together (the definition used in section 4).

# %% tags=["exercise"]
def chance_agreement(pred_x, pred_y, n_classes):
    """Σ_c p_c², p_c = share of class c among the predictions in pred_x and pred_y together."""
    # TODO: count each class over both tensors (torch.bincount), divide by the total, square, sum.
    return None

# %% tags=["solution"]
def chance_agreement(pred_x, pred_y, n_classes):
    """Σ_c p_c², p_c = share of class c among the predictions in pred_x and pred_y together."""
    shares = torch.bincount(torch.cat([pred_x, pred_y]), minlength=n_classes).float() / (len(pred_x) + len(pred_y))
    return float((shares ** 2).sum())

# %% tags=["check"]
_yours = chance_agreement(torch.tensor([0, 0, 1, 1]), torch.tensor([2, 2, 3, 3]), 4)
checks.check(_yours is not None, "chance_agreement returned None: the TODO has not been filled in yet.",
             ok_message="chance_agreement returns a value.", hint="torch.bincount(torch.cat([...]), minlength=...)")
checks.check_close(_yours, 0.25, "chance for four equally common classes", atol=1e-6,
                   hint="You counted one tensor only (each has two classes, share 1/2 each, so Σ p² = 0.5): "
                        "pool both with torch.cat before counting." if _yours == 0.5 else
                        "Four classes with share 1/4 each: 4 × (1/4)² = 0.25.")
checks.check_close(chance_agreement(torch.zeros(10, dtype=torch.long), torch.zeros(6, dtype=torch.long), 3), 1.0,
                   "chance when every prediction is class 0", atol=1e-6, hint="One class with share 1 gives 1.")
checks.check_close(chance_agreement(pred_a["colour"], pred_b["colour"], 4), agree["ABB"]["colour"][2],
                   "chance for the colour of our generated images (section 4)", atol=1e-6)

# %% [markdown]
# A generator that drew only red shapes would have chance 1: every mix "agrees" with every source. That is
# why agreement alone means nothing, and agreement minus chance does.
#
# ### Exercise 2: the truncation trick in W
#
# StyleGAN samples with the **truncation trick** in w-space: w' = w̄ + ψ·(w − w̄), where w̄ is the average w
# (over many z) and ψ ≤ 1 pulls every latent towards the average, trading variety for typical, clean
# images. Write `truncate(w, w_mean, psi)`. The check tests ψ = 0 and ψ = 1 and shows how the colours'
# variety shrinks as ψ falls.

# %% tags=["exercise"]
def truncate(w, w_mean, psi):
    """w' = w_mean + psi * (w - w_mean), for w (n, W_DIM) and w_mean (W_DIM,)."""
    # TODO: one line.
    return None

# %% tags=["solution"]
def truncate(w, w_mean, psi):
    """w' = w_mean + psi * (w - w_mean), for w (n, W_DIM) and w_mean (W_DIM,)."""
    return w_mean + psi * (w - w_mean)

# %% tags=["check"]
with torch.no_grad():
    _w_many = G.mapping(torch.randn(4000, LATENT, device=device))
    _w_mean = _w_many.mean(0)
_w = _w_many[:1000]
_t = truncate(_w, _w_mean, 0.0)
checks.check(_t is not None, "truncate returned None: the TODO has not been filled in yet.",
             ok_message="truncate returns a value.", hint="w_mean + psi * (w - w_mean)")
checks.check_close(_t, _w_mean.expand_as(_w), "truncate at psi 0 (every w becomes the average)", atol=1e-6)
checks.check_close(truncate(_w, _w_mean, 1.0), _w, "truncate at psi 1 (nothing changes)", atol=1e-6,
                   hint="At psi 1 the result must be w itself: w_mean + 1 · (w - w_mean) = w.")
checks.check_close(truncate(_w, _w_mean, 0.5), (_w + _w_mean) / 2, "truncate at psi 0.5 (halfway to the average)",
                   atol=1e-6, hint="The change must be linear in psi: at 0.5, w' is the midpoint of w and w_mean.")
for psi in (1.0, 0.5, 0.0):
    with torch.no_grad():
        _ws = truncate(_w, _w_mean, psi).unsqueeze(1).expand(-1, N_LAYERS, -1)
        _colours = predict_factors(G.synthesis(_ws))["colour"]
    _shares = torch.bincount(_colours, minlength=4).float() / len(_colours)
    print(f"psi {psi:.1f}: colour shares " + ", ".join(f"{c} {s:.2f}" for c, s in zip(FACTORS["colour"], _shares)))

# %% [markdown]
# At ψ = 0 every image is the "average" image, all of one colour (printed above); at ψ = 1 the full variety is
# back. In between, the shares move toward the average's colour at a pace that depends on where each colour's
# latents lie around the average w (compare the ψ = 0.5 line with the others). BigGAN's truncation (lesson 16)
# works on z instead: it redraws every entry of z whose magnitude exceeds a threshold. StyleGAN shrinks w
# toward its average, where the average is a meaningful image.
#
# ### Exercise 3: mixing regularisation's coin and crossover
#
# In training (`sample_fakes`, section 3) each fake image is a style mix with probability `MIX_PROB`: then its
# crossover layer is drawn uniformly from 1 to `N_LAYERS` − 1, so that layers before it take w₁ and the rest w₂.
# An unmixed image gets crossover `N_LAYERS` (every layer takes w₁). Write `draw_crossovers(n, mix_prob, gen)`
# returning a LongTensor of n crossovers, using the random generator `gen` for every draw. Why must a mixed
# image never get crossover 0? (The check explains it if your answer allows it.)

# %% tags=["exercise"]
def draw_crossovers(n, mix_prob, gen):
    """n crossover layers: N_LAYERS for an unmixed image, else uniform in 1 .. N_LAYERS - 1."""
    # TODO: a coin per image (torch.rand(n, generator=gen) < mix_prob), a uniform layer per image
    # (torch.randint(1, N_LAYERS, (n,), generator=gen)), and torch.where to combine them.
    return None

# %% tags=["solution"]
def draw_crossovers(n, mix_prob, gen):
    """n crossover layers: N_LAYERS for an unmixed image, else uniform in 1 .. N_LAYERS - 1."""
    mixed = torch.rand(n, generator=gen) < mix_prob
    return torch.where(mixed, torch.randint(1, N_LAYERS, (n,), generator=gen), torch.full((n,), N_LAYERS))

# %% tags=["check"]
_gen = torch.Generator().manual_seed(SEED)
_c = draw_crossovers(200_000, 0.9, _gen)
checks.check(_c is not None, "draw_crossovers returned None: the TODO has not been filled in yet.",
             ok_message="draw_crossovers returns a value.", hint="torch.where(coin, uniform layer, N_LAYERS)")
checks.check_shape(_c, (200_000,), "the crossovers")
checks.check(bool((draw_crossovers(1000, 0.0, _gen) == N_LAYERS).all()), "with mix_prob 0 no image may be mixed",
             ok_message="mix_prob 0: every image unmixed (crossover N_LAYERS).",
             hint="An unmixed image has crossover N_LAYERS; the coin decides whether an image is mixed at all.")
_all_mixed = draw_crossovers(1000, 1.0, _gen)
checks.check(bool(((_all_mixed >= 1) & (_all_mixed <= N_LAYERS - 1)).all()),
             "with mix_prob 1 every crossover must lie in 1 .. N_LAYERS - 1",
             ok_message="mix_prob 1: every image mixed, crossovers in 1 .. N_LAYERS - 1.",
             hint="Crossover 0 would give every layer w₂ and N_LAYERS every layer w₁: both are unmixed images of "
                  "one latent. torch.randint's upper bound is exclusive: torch.randint(1, N_LAYERS, ...).")
_shares = torch.bincount(_c, minlength=N_LAYERS + 1).float() / len(_c)
checks.check_close(_shares[1:], [0.9 / (N_LAYERS - 1)] * (N_LAYERS - 1) + [0.1],
                   "shares of crossovers 1 .. N_LAYERS (200,000 draws at mix_prob 0.9)", atol=0.006,
                   hint="Each of the N_LAYERS - 1 mixed crossovers should get 0.9 / (N_LAYERS - 1), the unmixed "
                        "crossover N_LAYERS the rest, 0.1.")

# %% [markdown]
# ## Going further
#
# * **Code.** The official implementations: [github.com/tkarras/progressive_growing_of_gans](https://github.com/tkarras/progressive_growing_of_gans)
#   and [github.com/NVlabs/stylegan](https://github.com/NVlabs/stylegan) (TensorFlow).
# * **StyleGAN2.** Karras, Laine, Aittala, Hellsten, Lehtinen & Aila, *Analyzing and Improving the Image
#   Quality of StyleGAN* (2019, [arXiv:1912.04958](https://arxiv.org/abs/1912.04958),
#   [github.com/NVlabs/stylegan2](https://github.com/NVlabs/stylegan2)). AdaIN caused "droplet" artifacts: the
#   generator learned to sneak information past the normalisation in one strong spike. StyleGAN2 replaces
#   AdaIN by **weight demodulation**: the style scales the convolution's weights (modulation), which are then
#   divided by the norm they would give each output channel, so the outputs have unit variance *on
#   expectation* rather than by normalising the actual features. It adds **path length regularisation**
#   (a fixed-size step in w should change the image by a fixed amount, which makes the generator smoother
#   and easier to invert), the lazy regularisation we used, and drops progressive growing for skip
#   connections in G and residual connections in D.
# * **Later.** Karras et al., *Training Generative Adversarial Networks with Limited Data* (StyleGAN2-ADA,
#   2020, [arXiv:2006.06676](https://arxiv.org/abs/2006.06676)): adaptive augmentation of D's inputs.
#   Karras et al., *Alias-Free Generative Adversarial Networks* (StyleGAN3, 2021,
#   [arXiv:2106.12423](https://arxiv.org/abs/2106.12423)).
# * **Try it.** `-p MIX_PROB 0.0` (the ablation above), `-p MIX_PROB 0.5`, `-p STEPS 3000` (do shape and size
#   find a home in the coarse layers with longer training?), `-p R1_GAMMA 0` (no R1), `-p MAPPING_LR_MULT 1`.
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:28s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["adain_max_diff", "colour_follows_fine", "colour_fine_minus_coarse"])
