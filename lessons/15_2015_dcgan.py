# ---
# jupyter:
#   course:
#     idea: "the classifier-based Inception Score and the Fr\xE9chet distance written\
#       \ out, checked against the course's judge and scipy, and always printed beside\
#       \ real digits' scores; a transposed convolution and BatchNorm checked against\
#       \ PyTorch; a DCGAN built by the paper's rules on 8\xD78 digits, scored as it\
#       \ trains; the run without BatchNorm; latent interpolation and latent arithmetic"
#     number: '15'
#     papers:
#     - arxiv: '1511.06434'
#       authors: Alec Radford, Luke Metz, Soumith Chintala
#       title: Unsupervised Representation Learning with Deep Convolutional Generative
#         Adversarial Networks
#       year: 2015
#     - arxiv: '1606.03498'
#       authors: Tim Salimans, Ian Goodfellow, Wojciech Zaremba, Vicki Cheung, Alec
#         Radford, Xi Chen
#       title: Improved Techniques for Training GANs
#       year: 2016
#     - arxiv: '1706.08500'
#       authors: Martin Heusel, Hubert Ramsauer, Thomas Unterthiner, Bernhard Nessler,
#         Sepp Hochreiter
#       title: GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
#         Equilibrium
#       year: 2017
#     title: 'DCGAN: convolutional GANs and how to score them'
#     track: generative
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
# # 15 · 2015 · DCGAN: convolutional GANs and how to score them
#
# **Papers**
#
# * Alec Radford, Luke Metz, Soumith Chintala (2015). *Unsupervised Representation Learning with Deep
#   Convolutional Generative Adversarial Networks.* ICLR 2016. [arXiv:1511.06434](https://arxiv.org/abs/1511.06434)
# * For the scores: Tim Salimans, Ian Goodfellow, Wojciech Zaremba, Vicki Cheung, Alec Radford, Xi Chen (2016).
#   *Improved Techniques for Training GANs* (the Inception Score). [arXiv:1606.03498](https://arxiv.org/abs/1606.03498).
#   Martin Heusel, Hubert Ramsauer, Thomas Unterthiner, Bernhard Nessler, Sepp Hochreiter (2017). *GANs Trained by
#   a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium* (the Fréchet Inception Distance).
#   [arXiv:1706.08500](https://arxiv.org/abs/1706.08500)
#
# ## The problem before this paper
#
# Lesson 14's GAN used small fully connected networks. The first GAN paper (Goodfellow et al., 2014) had
# already shown one convolutional model, a convolutional discriminator with a "deconvolutional" generator on
# CIFAR-10 (its Figure 2d), but it gave no recipe for making such a model train. Images have structure a fully
# connected net ignores: the same stroke can appear anywhere.
# Convolutional networks had transformed image *classification* (lesson 01), but, as the DCGAN paper puts it,
# historical attempts to scale up GANs with convolutional networks had been unsuccessful: training was
# unstable, and generators often produced nonsense. LAPGAN (Denton, Chintala, Szlam & Fergus, 2015,
# [arXiv:1506.05751](https://arxiv.org/abs/1506.05751)) got better images by chaining several GANs in a
# Laplacian pyramid, each adding detail at a finer scale, at the cost of a more complicated model. There was
# no simple recipe for a convolutional GAN that trains.
#
# There was no good way to **score** a generator either. Papers showed sample pictures and Parzen-window
# log-likelihood estimates, which Theis, van den Oord & Bethge (2015, [arXiv:1511.01844](https://arxiv.org/abs/1511.01844))
# showed can be badly misleading in high dimensions.
#
# ## The key idea
#
# DCGAN is a recipe: a set of architecture rules, found by extensive search, under which a convolutional
# generator and discriminator train stably. Its Section 3 lists them:
#
# * **No pooling.** The discriminator downsamples with *strided* convolutions; the generator upsamples with
#   *fractionally-strided* convolutions, now called **transposed convolutions** (the paper notes they had been
#   "wrongly called deconvolutions"). Each network learns its own resampling.
# * **BatchNorm in both networks** (lesson 03), except the generator's output layer and the discriminator's
#   input layer: applying it to every layer made samples oscillate and training unstable.
# * **No fully connected hidden layers.** The generator's first layer multiplies z by a matrix and reshapes the
#   result into a small stack of feature maps; the discriminator's last convolution is flattened into a
#   single output.
# * **ReLU** in the generator, **Tanh** on its output; **LeakyReLU** in the discriminator.
#
# And its Section 4, the training details: images scaled to Tanh's range [−1, 1]; mini-batches of 128; all
# weights drawn from a normal distribution with mean 0 and standard deviation 0.02; LeakyReLU slope 0.2; Adam
# with learning rate 0.0002 (0.001 was too high) and β₁ = 0.5 (0.9 made training oscillate). The noise z was
# 100 numbers drawn uniformly.
#
# The paper then looked *inside* the trained generator: walking along a line between two noise vectors
# changes the image smoothly, and **latent arithmetic** works: averaging the z of three samples per concept,
# "smiling woman" − "neutral woman" + "neutral man" gives a smiling man.
#
# ## What changed after
#
# The DCGAN recipe became the default GAN backbone for years, and most GAN papers that followed (lessons 16
# and 17) start from it. Scoring got its standard numbers: the **Inception Score** (Salimans et al., 2016) and
# the **Fréchet Inception Distance**, FID (Heusel et al., 2017), both read from a pretrained Inception
# classifier. We use the same two ideas with a small classifier of our own.
#
# ## What we do here, and what scale changes
#
# 1. A judge: a small classifier of the 8×8 digits. The Inception Score and the Fréchet distance written out in
#    its eyes, checked, and shown on real, broken and fake sets of digits, always beside the real data's score.
# 2. The two building blocks checked against PyTorch: a transposed convolution and BatchNorm.
# 3. **The reproduction**: a DCGAN built by the paper's rules on the digits, scored as it trains, against the
#    same nets without BatchNorm.
# 4. The latent space: interpolation and arithmetic, with a widget.
#
# The paper trained on 64×64 bedrooms, faces and ImageNet with a four-layer generator; our images are 8×8
# with two layers each side, and our judge knows ten digit classes, not a thousand objects. The rules, the
# failure without BatchNorm and the two scores work the same way; what their values mean depends on the
# judge, which is why we print every score next to the real data's.

# %% [markdown]
# ## 中文导读
#
# 第 14 课的 GAN 用的是全连接网络。2015 年以前，把卷积网络直接用于 GAN 往往训练不稳定；LAPGAN 用拉普拉斯金字塔串联多个
# GAN 才得到较好的图像，而且没有一套简单可靠的架构方案，也没有可靠的办法给生成器打分。Radford、Metz 和 Chintala 的
# **DCGAN**（深度卷积生成对抗网络）给出了一套架构规则：判别器用步幅卷积下采样，生成器用**转置卷积**上采样，不用池化；
# 两个网络都用**批归一化**，但生成器的输出层和判别器的输入层除外；没有全连接隐藏层；生成器用 ReLU、输出用 Tanh，
# 判别器用 LeakyReLU（斜率 0.2）；权重初始化为均值 0、标准差 0.02 的正态分布；Adam 学习率 0.0002、β₁ = 0.5。
# 论文还发现潜在空间有结构：在两个噪声向量之间做**潜在插值**，图像平滑变化；**潜在向量算术**（对每个概念取三个样本的
# z 的平均再做加减）能组合语义。
#
# 本课先训练（或从缓存读取）一个数字分类器作为“评委”，亲手写出**Inception 分数**（IS：每张图分类自信、整体类别多样时高，
# 最高为类别数 10）和**Fréchet Inception 距离**（FID：两组图像在评委特征空间中拟合的高斯分布之间的距离，越小越好；
# 本课用评委的特征代替 Inception 网络的特征），与课程的 `judge` 模块和 scipy 核对，并总是与真实留出数字在相同样本量下的
# 分数并列打印。单一类别、只有五个类别、重复的少数数字、两个数字的混合和随机噪声各自怎样移动这两个分数：IS 看不出
# 记忆和类内多样性不足，甚至会给噪声中等分数，FID 能看出来。然后用 PyTorch 核对转置卷积和批归一化，按论文规则在 8×8
# 数字上搭建并训练 DCGAN，随训练画出固定潜在向量的样本网格和 IS/FID 曲线；里程碑：生成样本的 IS 至少为真实留出数字
# IS 的 70%，FID 不超过真实数字之间 FID 的 5 倍。去掉批归一化的同一网络在相同步数下学不起来，生成器几乎把所有噪声
# 映射成同一张图（论文说批归一化能防止生成器把所有样本坍缩到一个点）。最后在潜在空间中做潜在插值和潜在向量算术
# （用评委判定的类别求平均 z，再做 z − z̄_a + z̄_b，并与同样长度的随机方向对照）；交互控件可选择起始类别 a、目标类别 b 和步长 s，
# 查看移动后的样本和评委的判定。所有数字都来自本课的运行结果。
#
# 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)。

# %%
# Imports. The course's plumbing (data, plots, checks, the digit judge) lives in the `course_utils` package of
# this repository; every idea of the lesson is written out in the cells below.
try:
    from course_utils import checks, data, judge, lessons, params, plot, record, repro, widgets
except ImportError as exc:  # e.g. a hosted notebook service without the course installed
    raise ImportError(
        "This lesson needs the course's `course_utils` package. In the course folder run\n"
        "    make setup        (creates .venv with everything)\n"
        "or  pip install -e .  (installs course_utils into the current Python)\n"
        "then restart the kernel."
    ) from exc

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): the judge, initialisation, noise and batches
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: a few steps of everything; every code path in seconds; milestones reported, not asserted
STEPS = 2000  # training steps of the DCGAN (one D step, then one G step), from 50 to 20000
BATCH = 64  # real and fake images per step, from 8 to 512
LR = 2e-4  # Adam learning rate of both networks (the paper's value), from 1e-5 to 1e-2
BETA1 = 0.5  # Adam's beta1 (the paper's value; Adam's usual default is 0.9), from 0.0 to 0.99
LATENT = 32  # size of the noise vector z, uniform in [-1, 1] (the paper used 100), from 2 to 256
WIDTH = 32  # feature maps at 4x4 in G and D (twice as many at 2x2), from 8 to 256
SNAPSHOT_EVERY = 250  # steps between scored snapshots of G, from 10 to 5000
ABLATION_STEPS = 500  # steps of the run without BatchNorm, from 50 to 20000
ABLATION_INIT = "paper"  # initialisation of the run without BatchNorm: "paper" (N(0, 0.02)) or "pytorch" (PyTorch's default)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=50, max=20000),
    BATCH=params.Int(min=8, max=512),
    LR=params.Float(min=1e-5, max=1e-2),
    BETA1=params.Float(min=0.0, max=0.99),
    LATENT=params.Int(min=2, max=256),
    WIDTH=params.Int(min=8, max=256),
    SNAPSHOT_EVERY=params.Int(min=10, max=5000),
    ABLATION_STEPS=params.Int(min=50, max=20000),
    ABLATION_INIT=params.Choice(["paper", "pytorch"]),
)
LR, BETA1 = P["LR"], P["BETA1"]  # an int becomes a float
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("15")
plt.show()

# %% [markdown]
# ## 1. The digits and the judge
#
# Our data are the 1,797 scikit-learn handwritten digits, 8×8 pixels in [0, 1]. The course's `judge` module
# splits them once, the same way for every lesson: 80 % for training generators, and 359 **held-out** digits
# (35 to 37 of each class) that no generator ever sees. They are our reference for "real".
#
# A generator needs a number, not only pictures. Our **judge** is a small convolutional classifier of the 10
# digit classes, trained on the same 80 % (its recipe is in `course_utils/judge.py`; the first run with a
# given seed trains it, and later runs load it from `datasets/cache/`, which is faster; the cell below prints
# which of the two happened and how long it took). We use two things from it: its class
# probabilities p(y | x), and the 64 numbers of its last hidden layer, its **features** of an image.

# %%
t_section = time.perf_counter()
_t0 = time.perf_counter()
j = judge.digit_judge(SEED)
digits_x, digits_y = data.load_digits()
train_x, train_y = digits_x[j.train_idx], digits_y[j.train_idx]  # images in [0, 1] for the judge
held_x, held_y = digits_x[j.test_idx], digits_y[j.test_idx]
N_REF = len(held_x)  # every score below uses this many images, the size of the held-out set
print(f"judge {'loaded from the cache' if j.from_cache else 'trained'} in {time.perf_counter() - _t0:.1f} s; "
      f"accuracy on the {N_REF} held-out digits: {j.test_accuracy:.1%}")
print(f"{len(train_x)} training digits, {N_REF} held-out digits; held-out per class: "
      f"{torch.bincount(held_y, minlength=10).tolist()}")
checks.check_shape(j.probs(held_x[:5]), (5, 10), "the judge's class probabilities for 5 digits")
checks.check_shape(j.features(held_x[:5]), (5, 64), "the judge's features for 5 digits")
record.metric("judge_test_accuracy", j.test_accuracy)

fig = plot.image_grid(held_x[:32], titles=[str(int(c)) for c in held_y[:32]], ncols=16,
                      title="Held-out real digits (8×8) with their labels")
plt.show()
SECTION_SECONDS["1. Data and judge"] = time.perf_counter() - t_section

# %% [markdown]
# ## 2. Two scores for a set of images
#
# **The Inception Score (IS).** Salimans et al. (2016) asked a pretrained classifier (Inception, hence the
# name) two questions about a set of generated images. Is each image clearly *one* thing? Then p(y | x) is
# peaked. Are the images, together, of *many* things? Then the average of the p(y | x) over the set, the
# marginal p(y), is spread out. The score is large when both hold:
#
# IS = exp( mean over images x of KL( p(y | x) ‖ p(y) ) ).
#
# KL is the Kullback–Leibler divergence. With 10 classes the IS lies between 1 (every image gets the same
# prediction) and 10 (every image is classified with certainty, and the classes are used equally often).
#
# **The Fréchet distance (FID).** Heusel et al. (2017) compared the *features* instead: fit a Gaussian (a
# mean μ and a covariance Σ) to the features of each set of images, and measure the Fréchet distance between
# the two Gaussians,
#
# FID = ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½).
#
# It is 0 for identical statistics and grows as the sets differ in any way the features see: a shifted mean,
# missing variety, extra variety. Lower is better. With Inception's features it is the Fréchet *Inception*
# Distance; ours uses the judge's 64 features, so we call it FID too, in the judge's eyes.
#
# For the square-root term we do not need the matrix square root itself, only its trace: the eigenvalues of
# Σ_a Σ_b are real and non-negative (it is similar to the symmetric Σ_a^½ Σ_b Σ_a^½), and the trace of
# (Σ_a Σ_b)^½ is the sum of their square roots.

# %%
t_section = time.perf_counter()


def inception_score(probs):
    """exp(mean over images of KL(p(y|x) ‖ p(y))) for class probabilities (N, C)."""
    p = probs.double().clamp_min(1e-12)  # clamp: log 0 would give nan
    p_y = p.mean(0, keepdim=True)  # the marginal: how often each class is predicted, on average
    kl = (p * (p.log() - p_y.log())).sum(1)  # one KL divergence per image
    return kl.mean().exp().item()


def frechet_distance(feat_a, feat_b):
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (N, D)."""
    a, b = feat_a.double(), feat_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)  # (D, D), also for D = 1
    # tr((Σa Σb)^½) = sum of the square roots of the eigenvalues of Σa Σb (real, >= 0 up to rounding)
    eig = torch.linalg.eigvals(cov_a @ cov_b).real.clamp_min(0)
    return ((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * eig.sqrt().sum()).item()


# Tiny tests by hand: two images, each surely a different class, give IS = 2; one class only gives IS = 1;
# two sets whose features differ only by a shift of 3 in one coordinate have FID = 3² = 9.
_sure = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
checks.check_close(inception_score(_sure), 2.0, "IS of two images surely of two different classes")
checks.check_close(inception_score(_sure[:1].repeat(5, 1)), 1.0, "IS of five images all surely one class")
_f = torch.randn(500, 4, generator=torch.Generator().manual_seed(0))
checks.check_close(frechet_distance(_f, _f + torch.tensor([3.0, 0, 0, 0])), 9.0, "FID between a set and its shift by 3",
                   rtol=1e-6)

# %% [markdown]
# **Checked against the course's judge and against scipy.** `judge.inception_score` and
# `judge.frechet_distance` are the versions later lessons call. The judge's FID takes a different route to
# the square-root term (eigendecompositions of symmetric matrices only); scipy's `scipy.linalg.sqrtm`
# computes the matrix square root of Σ_a Σ_b directly. We compare all three on the features of real digits.

# %%
held_probs, held_feat = j.probs(held_x), j.features(held_x)
_perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(SEED))
ref_train_x = train_x[_perm[:N_REF]]  # as many real training digits: the best a generator could do
ref_train_feat = j.features(ref_train_x)
_ours_fid = frechet_distance(ref_train_feat, held_feat)
_a, _b = ref_train_feat.double().numpy(), held_feat.double().numpy()
_ca, _cb = np.cov(_a.T), np.cov(_b.T)
with warnings.catch_warnings():  # some judge features are always 0 (dead ReLUs): singular covariances
    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
    _scipy_fid = (((_a.mean(0) - _b.mean(0)) ** 2).sum() + np.trace(_ca) + np.trace(_cb)
                  - 2 * np.trace(scipy.linalg.sqrtm(_ca @ _cb)).real)
score_diffs = {
    "IS: ours vs judge.inception_score": abs(inception_score(held_probs) - judge.inception_score(held_probs))
    / judge.inception_score(held_probs),
    "FID: ours vs judge.frechet_distance": abs(_ours_fid - judge.frechet_distance(ref_train_feat, held_feat))
    / _ours_fid,
    "FID: ours vs scipy.linalg.sqrtm": abs(_ours_fid - _scipy_fid) / _ours_fid,
}
for name, diff in score_diffs.items():
    print(f"{name:38s} relative difference {diff:.1e}")
checks.milestone("scores_max_rel_diff", max(score_diffs.values()), 1e-5, "<=",
                 note="our IS and FID vs judge.inception_score, judge.frechet_distance and an FID through "
                      f"scipy.linalg.sqrtm, on the held-out digits and {N_REF} training digits (float64)")

# %% [markdown]
# **What the numbers mean: the real data's own score first.** A score on its own says little; so we always
# compute the same score for real digits, with the same number of images (the FID in particular is biased
# upwards for small sets, so the set size must match). Then we compute it for sets that are wrong in known
# ways, each of 359 images:
#
# * **held-out real digits**: the reference; its IS is the best a generator can expect in this judge's eyes;
# * **real training digits**, 359 of them against the held-out ones: the FID a *perfect* generator would get
#   at this set size (not 0: two samples of the same distribution differ). We average over the 4 disjoint sets
#   of 359 that the 1,438 training digits hold, and call it the **floor**;
# * **one class only** (all 3s) and **five classes only** (0 to 4): mode dropping;
# * **36 digits, each repeated 10 times** (one copy fewer for the last, to make 359): perfect images but little variety (memorisation);
# * **blends**: each image the average of two real digits of different classes;
# * **noise**: uniform random pixels.
#
# The sets built from real digits draw training digits (with replacement where a class has fewer than 359).

# %%
_gen = torch.Generator().manual_seed(SEED + 1)


def _draw(pool, n=N_REF):
    """n training digits drawn from `pool` (indices), with replacement when the pool is smaller than n."""
    pick = torch.randint(len(pool), (n,), generator=_gen) if len(pool) < n else torch.randperm(len(pool), generator=_gen)[:n]
    return train_x[pool[pick]]


_idx = torch.arange(len(train_x))
_a_idx, _b_idx = torch.randint(len(train_x), (2, 4 * N_REF), generator=_gen)
_keep = (train_y[_a_idx] != train_y[_b_idx]).nonzero().squeeze(1)[:N_REF]
probe_sets = {
    "held-out real (reference)": held_x,
    "real training digits": [train_x[_perm[i * N_REF:(i + 1) * N_REF]] for i in range(len(train_x) // N_REF)],
    "one class (all 3s)": _draw(_idx[train_y == 3]),
    "five classes (0-4)": _draw(_idx[train_y < 5]),
    "36 digits, 10 copies each": _draw(_idx)[:36].repeat(10, 1, 1, 1)[:N_REF],
    "blends of two digits": (train_x[_a_idx[_keep]] + train_x[_b_idx[_keep]]) / 2,
    "uniform noise": torch.rand(N_REF, 1, 8, 8, generator=_gen),
}
probe_scores = {}
for name, sets in probe_sets.items():
    sets = sets if isinstance(sets, list) else [sets]  # the real training digits: 4 disjoint sets, scores averaged
    checks.check_shape(sets[0], (N_REF, 1, 8, 8), name)
    probe_scores[name] = (float(np.mean([inception_score(j.probs(imgs)) for imgs in sets])),
                          float(np.mean([frechet_distance(j.features(imgs), held_feat) for imgs in sets])))
IS_REAL = probe_scores["held-out real (reference)"][0]
FID_FLOOR = probe_scores["real training digits"][1]
print(f"{'set of ' + str(N_REF) + ' images':28s} {'IS':>6s} {'FID to held-out':>16s}")
for name, (is_, fid) in probe_scores.items():
    print(f"{name:28s} {is_:6.2f} {max(fid, 0.0):16.1f}")  # max: rounding can leave -1e-13 for identical sets
record.metric("is_real_heldout", IS_REAL)
record.metric("fid_floor_train_vs_heldout", FID_FLOOR)
checks.check(probe_scores["one class (all 3s)"][0] < 2 and probe_scores["uniform noise"][1] > 10 * FID_FLOOR,
             "one class should score an IS near 1 and noise a FID far above the floor",
             ok_message="the scores react as they should: one class has IS near 1, noise a huge FID.")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
_names = list(probe_scores)
_colors = [plot.COLORS[2] if n.startswith(("held", "real")) else plot.COLORS[0] for n in _names]
axes[0].barh(_names, [probe_scores[n][0] for n in _names], color=_colors)
axes[0].axvline(IS_REAL, color="black", linestyle=":", label="held-out real digits")
axes[0].set(xlabel="Inception Score (1 to 10; higher is better)", title=f"IS in the judge's eyes, {N_REF} images each",
            xlim=(0, 10.5))
axes[0].invert_yaxis()
axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8)
_fids = [max(probe_scores[n][1], 0.0) for n in _names]
axes[1].barh(range(1, len(_names)), _fids[1:], color=_colors[1:])  # held-out vs itself has FID 0: a marker, no bar
axes[1].plot([_fids[0]], [0], marker="D", color=_colors[0], linestyle="none", clip_on=False, zorder=3,
             label="held-out vs itself: FID 0")
axes[1].axvline(FID_FLOOR, color="black", linestyle=":", label="floor: real training vs held-out")
axes[1].set_xscale("symlog", linthresh=10)  # linear from 0 to 10, so that 0 has a place; logarithmic above
axes[1].set(xlim=(0, None), xlabel="FID to the held-out digits (0 to 10 linear, log above; lower is better)",
            title=f"FID in the judge's eyes, {N_REF} images each")
axes[1].set_yticks(range(len(_names)), [""] * len(_names))
axes[1].invert_yaxis()
axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8)
plt.show()
SECTION_SECONDS["2. Scores"] = time.perf_counter() - t_section

# %% [markdown]
# The held-out digits score an IS a little below 10 (printed above): the judge is confident on nearly every
# real digit, and the 10 classes are equally common. The FID of the held-out set to itself is 0, so the honest
# "perfect" FID is the floor printed for the real training digits.
#
# Read the two columns together; each score misses something the other sees:
#
# * **One class** and **five classes**: the IS falls to about 1 and about 5, the number of classes used (the
#   IS counts classes, roughly, as a perplexity does), and the FID rises far above the floor.
# * **36 digits, 10 copies each**: the IS stays high (above 8 on our five seeds: each image is a clear digit and
#   all ten classes appear), so **the IS cannot see memorisation or missing variety within a class**. The FID
#   sees it: 36 distinct images cannot spread their features the way 359 do, and it lands many times the floor.
# * **Blends** confuse the judge (a lower IS) and sit off the data (a high FID).
# * **Noise** scores an IS between 5 and 6.5 on our five seeds, not 1: a judge that has only ever seen digits is
#   confident about many noise images, and the IS trusts its classifier completely. The FID is not fooled.
#
# So a generator should score an IS close to the real digits' *and* a FID close to the floor.
#
# ## 3. The building blocks, checked against PyTorch
#
# **The transposed convolution.** A strided convolution with stride 2 halves the image; the generator needs
# the opposite. A **transposed convolution** with stride s does it in two steps we can write by hand:
# spread the input out by inserting s − 1 zeros between neighbouring pixels, pad the border by k − 1 − p
# (kernel size k, padding p), then run an ordinary stride-1 convolution with the kernel flipped left–right
# and up–down (and its input and output channels swapped). Equivalently, each input pixel stamps a scaled
# copy of the kernel onto the output, s pixels apart from its neighbour's stamp. The output size is
# (H − 1)·s − 2p + k: with k = 4, s = 2, p = 1, H becomes 2H, which is what our generator uses.

# %%
t_section = time.perf_counter()


def conv_transpose2d_by_hand(x, weight, stride, padding):
    """nn.ConvTranspose2d's output (no bias) as zero insertion + an ordinary convolution.

    x: (N, C_in, H, W); weight: (C_in, C_out, k, k), nn.ConvTranspose2d's layout."""
    n, c, h, w = x.shape
    k = weight.shape[-1]
    spread = x.new_zeros(n, c, (h - 1) * stride + 1, (w - 1) * stride + 1)
    spread[:, :, ::stride, ::stride] = x  # s - 1 zeros between neighbouring pixels
    kernel = weight.transpose(0, 1).flip(2, 3)  # (C_out, C_in, k, k), flipped in space
    return F.conv2d(spread, kernel, padding=k - 1 - padding)


layer_diffs = {}
_x = torch.randn(3, 5, 2, 2, dtype=torch.float64)
for k, s, p in [(4, 2, 1), (3, 2, 1), (5, 3, 2), (4, 1, 0)]:
    _lib = nn.ConvTranspose2d(5, 7, k, stride=s, padding=p, bias=False).double()
    with torch.no_grad():
        _ref = _lib(_x)
    _ours = conv_transpose2d_by_hand(_x, _lib.weight.detach(), s, p)
    checks.check_shape(_ours, tuple(_ref.shape), f"transposed convolution k={k} s={s} p={p}")
    layer_diffs[f"transposed conv k={k} s={s} p={p} ({_x.shape[-1]}→{_ref.shape[-1]})"] = (_ours - _ref).abs().max().item()

# %% [markdown]
# **BatchNorm in training mode** (lesson 03): for each channel, subtract the batch's mean and divide by its
# standard deviation, both taken over the batch and all pixel positions, then scale by γ and shift by β. It
# also keeps running averages of the mean and of the *unbiased* variance (momentum 0.1), which evaluation
# mode uses instead of the batch's. We check the output and the running statistics.

# %%
def batch_norm_train(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """BatchNorm2d in training mode: returns the output and the updated running mean and variance."""
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3), unbiased=False)  # the batch's own variance normalises...
    n = x.numel() / x.shape[1]
    out = (x - mean.view(1, -1, 1, 1)) / (var.view(1, -1, 1, 1) + eps).sqrt()
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)  # ...the running one is unbiased
    return gamma.view(1, -1, 1, 1) * out + beta.view(1, -1, 1, 1), new_mean, new_var


_bn = nn.BatchNorm2d(7).double()
with torch.no_grad():
    _bn.weight.uniform_(0.5, 2)
    _bn.bias.uniform_(-1, 1)
_h = torch.randn(6, 7, 4, 4, dtype=torch.float64) * 3 + 1
_ours, _mean, _var = batch_norm_train(_h, _bn.weight.detach(), _bn.bias.detach(), _bn.running_mean.clone(),
                                      _bn.running_var.clone())
with torch.no_grad():
    _ref = _bn(_h)  # training mode: uses the batch statistics and updates the running ones
layer_diffs["BatchNorm2d output (training mode)"] = (_ours - _ref).abs().max().item()
layer_diffs["BatchNorm2d running mean and variance"] = max((_mean - _bn.running_mean).abs().max().item(),
                                                           (_var - _bn.running_var).abs().max().item())
for name, diff in layer_diffs.items():
    print(f"{name:44s} ours vs PyTorch: max |difference| {diff:.1e}")
checks.milestone("layers_max_diff", max(layer_diffs.values()), 1e-10, "<=",
                 note="max |ours - PyTorch| for nn.ConvTranspose2d (4 kernel/stride/padding settings) and "
                      "nn.BatchNorm2d in training mode (output and running statistics), float64")

# %% [markdown]
# **Why kernel 4 with stride 2.** Each output pixel of a transposed convolution receives a stamp from some
# number of input pixels. When the kernel size is a multiple of the stride, every interior output pixel
# receives the same number; otherwise some receive more than their neighbours and the output starts with a
# checkerboard pattern that training must undo (Odena, Dumoulin & Olah, 2016, "Deconvolution and
# Checkerboard Artifacts"). Below: a 4×4 input of ones through a kernel of ones, for k = 4 and k = 3.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, k in zip(axes, (4, 3)):
    _count = conv_transpose2d_by_hand(torch.ones(1, 1, 4, 4), torch.ones(1, 1, k, k), 2, 1)[0, 0]
    im = ax.imshow(_count, cmap="viridis", vmin=0, vmax=4)
    for (r, c), v in np.ndenumerate(_count.numpy()):
        ax.text(c, r, f"{v:.0f}", ha="center", va="center", color="white" if v < 3 else "black", fontsize=8)
    ax.set(title=f"kernel {k}, stride 2: {tuple(_count.shape)} output", xlabel="output column", ylabel="output row")
    ax.grid(False)
fig.colorbar(im, ax=axes, shrink=0.8, label="input pixels stamping each output pixel")
fig.suptitle("Overlap of a transposed convolution's stamps (input 4×4 of ones, kernel of ones)")
plt.show()
SECTION_SECONDS["3. Building blocks"] = time.perf_counter() - t_section

# %% [markdown]
# With k = 4 every interior output pixel receives exactly 4 stamps (2 × 2); with k = 3 the counts alternate
# 1, 2, 4 in a checkerboard. Our generator uses k = 4.
#
# ## 4. The generator and the discriminator, by the paper's rules
#
# Scaled down to 8×8 images, each network has two resampling layers, and every rule of Section 3 holds:
#
# | generator G | shape | discriminator D | shape |
# |---|---|---|---|
# | z, uniform in [−1, 1] | (LATENT,) | image in [−1, 1] | (1, 8, 8) |
# | matrix multiply, reshape; BatchNorm, ReLU | (2·WIDTH, 2, 2) | strided conv k4 s2; LeakyReLU 0.2, **no BatchNorm** (input layer) | (WIDTH, 4, 4) |
# | transposed conv k4 s2; BatchNorm, ReLU | (WIDTH, 4, 4) | strided conv k4 s2; BatchNorm, LeakyReLU 0.2 | (2·WIDTH, 2, 2) |
# | transposed conv k4 s2; Tanh, **no BatchNorm** (output layer) | (1, 8, 8) | flatten, one output (a logit) | (1,) |
#
# No pooling, no fully connected hidden layer. Layers followed by BatchNorm need no bias (BatchNorm's β does
# its job). `batchnorm=False` replaces every BatchNorm by nothing, for section 6. All weights start from
# N(0, 0.02²) as in the paper; BatchNorm's γ and β keep PyTorch's start, 1 and 0.

# %%
t_section = time.perf_counter()


def _norm(channels, batchnorm):
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class Generator(nn.Module):
    def __init__(self, latent, width, batchnorm=True):
        super().__init__()
        self.width = width
        self.project = nn.Linear(latent, 2 * width * 2 * 2, bias=not batchnorm)  # z -> a 2x2 stack of maps
        self.norm0 = _norm(2 * width, batchnorm)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=not batchnorm)  # 2 -> 4
        self.norm1 = _norm(width, batchnorm)
        self.up2 = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)  # 4 -> 8, the output layer

    def forward(self, z, trace=False):
        h = F.relu(self.norm0(self.project(z).view(-1, 2 * self.width, 2, 2)))
        h1 = F.relu(self.norm1(self.up1(h)))
        out = torch.tanh(self.up2(h1))
        if trace:
            print(f"G: z {tuple(z.shape)} -> {tuple(h.shape)} -> {tuple(h1.shape)} -> image {tuple(out.shape)}")
        return out


class Discriminator(nn.Module):
    def __init__(self, width, batchnorm=True):
        super().__init__()
        self.down1 = nn.Conv2d(1, width, 4, stride=2, padding=1)  # 8 -> 4, the input layer: no BatchNorm
        self.down2 = nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=not batchnorm)  # 4 -> 2
        self.norm2 = _norm(2 * width, batchnorm)
        self.out = nn.Linear(2 * width * 2 * 2, 1)  # flatten -> one logit

    def forward(self, x, trace=False):
        h1 = F.leaky_relu(self.down1(x), 0.2)
        h2 = F.leaky_relu(self.norm2(self.down2(h1)), 0.2)
        logit = self.out(h2.flatten(1))
        if trace:
            print(f"D: image {tuple(x.shape)} -> {tuple(h1.shape)} -> {tuple(h2.shape)} -> logit {tuple(logit.shape)}")
        return logit


def init_paper(module):
    """The paper's initialisation: conv, transposed-conv and linear weights from N(0, 0.02²), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def make_pair(batchnorm=True, init="paper", seed=SEED):
    torch.manual_seed(seed)
    G, D = Generator(LATENT, WIDTH, batchnorm).to(device), Discriminator(WIDTH, batchnorm).to(device)
    if init == "paper":
        G.apply(init_paper)
        D.apply(init_paper)
    return G, D


def sample_z(n, generator=None):
    return (torch.rand(n, LATENT, generator=generator) * 2 - 1).to(device)  # uniform in [-1, 1], as in the paper


_G, _D = make_pair()
_fake = _G(sample_z(5), trace=True)
_D(_fake, trace=True)
checks.check_shape(_fake, (5, 1, 8, 8), "G(z): one 8×8 image per noise vector")
checks.check(bool((_fake.abs() <= 1).all()), "G's images should lie in [-1, 1] (Tanh)", ok_message="G's output is in [-1, 1].")
checks.check_shape(_D(_fake), (5, 1), "D(image): one logit per image")
print(f"parameters: G {sum(p.numel() for p in _G.parameters()):,}, D {sum(p.numel() for p in _D.parameters()):,}")
SECTION_SECONDS["4. Networks"] = time.perf_counter() - t_section

# %% [markdown]
# ## 5. Training the DCGAN and scoring it as it goes
#
# The game and the losses are lesson 14's: D minimises −log σ(l_real) − log(1 − σ(l_fake)) and G the
# non-saturating −log σ(l_fake), where l is D's logit. Both are softplus functions of the logit
# (−log σ(l) = softplus(−l)), which PyTorch computes stably. Each step: a batch of real digits (scaled to
# [−1, 1]) and a batch of fakes through D, one Adam step on D; then one Adam step on G through the updated D.
# Real and fake batches go through D separately, so BatchNorm normalises each with its own statistics, as in
# the paper's code. Adam uses the paper's learning rate and β₁; our batch is smaller (`BATCH`, the paper used
# 128).
#
# Every `SNAPSHOT_EVERY` steps we switch G to evaluation mode (BatchNorm then uses its running statistics,
# so an image does not depend on the rest of its batch) and score it:
#
# * **IS**: the mean over 5 batches of 359 generated images (fixed noise), each scored like the real digits;
# * **FID**: the mean over the same 5 batches, each against the 359 held-out digits;
# * a grid of images for 16 fixed noise vectors, to watch the same z change as G learns.

# %%
def d_loss(logit_real, logit_fake):
    return F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean()


def g_loss(logit_fake):  # non-saturating: -log D(G(z))
    return F.softplus(-logit_fake).mean()


z_eval = sample_z(5 * N_REF, torch.Generator().manual_seed(1234))  # fixed noise for scoring, same every run
z_grid = z_eval[:16]


@torch.no_grad()
def generate(G, z, batch=2000):
    """Images in [0, 1] for the judge, G in evaluation mode."""
    was_training = G.training
    G.eval()
    out = torch.cat([G(z[i:i + batch]) for i in range(0, len(z), batch)])
    G.train(was_training)
    return ((out + 1) / 2).cpu()


# %% [markdown]
# A helper to draw rows of images with a label per row (the grids below), and the scoring of a snapshot.

# %%
def show_rows(rows, labels, title, col_titles=None, height=0.85):
    """Rows of 8x8 images in [0, 1] (each a tensor (n, 1, 8, 8)), one label per row; returns the figure."""
    n_cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(0.75 * n_cols, height * len(rows) + 0.6), squeeze=False)
    for r, (imgs, label) in enumerate(zip(rows, labels)):
        for c, ax in enumerate(axes[r]):
            if c < len(imgs):
                ax.imshow(imgs[c, 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if col_titles is not None and r == 0:
                ax.set_title(col_titles[c], fontsize=8)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    return fig


def score(G, step):
    """A snapshot of G: IS and FID (means over the 5 batches of fixed noise), the 16-image grid, the classes."""
    imgs = generate(G, z_eval)
    batches = imgs.split(N_REF)
    return {"step": step, "grid": imgs[:16], "classes": j.probs(imgs).argmax(1),
            "is": float(np.mean([inception_score(j.probs(b)) for b in batches])),
            "fid": float(np.mean([frechet_distance(j.features(b), held_feat) for b in batches]))}


_s0 = score(_G, 0)  # the untrained G of section 4
print(f"untrained G: IS {_s0['is']:.2f}, FID {_s0['fid']:.1f}, grid {tuple(_s0['grid'].shape)}")

# %% [markdown]
# The training loop: one D step, then one G step, and a scored snapshot every `SNAPSHOT_EVERY` steps.

# %%
def train_dcgan(G, D, steps, seed):
    """Alternate one D step and one G step for `steps` steps; return the snapshots."""
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=(BETA1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=(BETA1, 0.999))
    gen = torch.Generator().manual_seed(seed + 10)
    real_all = (train_x * 2 - 1).to(device)  # the paper scales images to Tanh's range
    every = max(1, min(SNAPSHOT_EVERY, steps // 4))
    snaps = [score(G, 0)]
    for step in range(1, steps + 1):
        real = real_all[torch.randint(len(real_all), (BATCH,), generator=gen)]
        fake = G(sample_z(BATCH, gen))
        loss_d = d_loss(D(real), D(fake.detach()))  # detach: D's step does not move G
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = g_loss(D(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()  # D's weights get gradients too, but only opt_g steps; opt_d zeroes them first
        opt_g.step()
        if step % every == 0 or step == steps:
            snaps.append(score(G, step))
            snaps[-1].update(loss_d=loss_d.item(), loss_g=loss_g.item())
    return snaps


# %%
t_section = time.perf_counter()
train_steps = 40 if SMOKE else STEPS
G, D = make_pair()
_t0 = time.perf_counter()
snaps = train_dcgan(G, D, train_steps, SEED)
final = snaps[-1]
print(f"{train_steps} steps in {time.perf_counter() - _t0:.1f} s")
print(f"{'step':>6s} {'IS':>6s} {'FID':>8s} {'same class as before':>21s}   (real held-out digits: IS {IS_REAL:.2f}; "
      f"FID floor {FID_FLOOR:.1f})")
for before, s in zip([None] + snaps[:-1], snaps):
    kept = "" if before is None else f"{(s['classes'] == before['classes']).float().mean():.0%}"
    print(f"{s['step']:6d} {s['is']:6.2f} {s['fid']:8.1f} {kept:>21s}")

# %%
is_ratio = final["is"] / IS_REAL
fid_ratio = final["fid"] / FID_FLOOR
print(f"final: IS {final['is']:.2f} = {is_ratio:.0%} of the real digits' {IS_REAL:.2f}; FID {final['fid']:.1f} = "
      f"{fid_ratio:.1f} × the floor {FID_FLOOR:.1f}")
checks.milestone("is_ratio", is_ratio, 0.70, ">=",
                 note=f"IS of generated digits (mean of 5 batches of {N_REF}) / IS of the {N_REF} held-out digits, "
                      f"after {train_steps} steps")
checks.milestone("fid_ratio", fid_ratio, 5.0, "<=",
                 note=f"FID of generated digits to the held-out ones (mean of 5 batches of {N_REF}) / FID of "
                      f"4 disjoint sets of {N_REF} real training digits to them (mean), after {train_steps} steps")
SECTION_SECONDS["5. Training"] = time.perf_counter() - t_section

# %%
shown = [snaps[i] for i in sorted({0, 1, 2, len(snaps) // 2, len(snaps) - 1})]
show_rows([s["grid"] for s in shown], [f"step {s['step']}" for s in shown],
          "The same 16 noise vectors z (columns) as G trains (rows)")
plt.show()

# %% [markdown]
# Each column keeps its noise vector. At step 0 every image is a nearly uniform mid-grey: the last layer's
# weights are tiny, so the output is close to Tanh(0) = 0, i.e. 0.5 once mapped to [0, 1]. Within the first few hundred steps strokes
# appear, and later rows sharpen them into digits. A noise vector may change digit while G is young; the last
# column of the table above counts, over all scoring noise vectors, the share whose image the judge puts in the
# same class as at the previous snapshot, and it rises as G settles.

# %% [markdown]
# ## 6. Without BatchNorm
#
# The paper says BatchNorm "proved critical to get deep generators to begin learning", preventing the
# generator from collapsing all samples to a single point. We train the same two networks with every
# BatchNorm removed, everything else equal, for `ABLATION_STEPS` steps, and score them the same way.

# %%
t_section = time.perf_counter()
ablation_steps = 40 if SMOKE else ABLATION_STEPS
G_nobn, D_nobn = make_pair(batchnorm=False, init=ABLATION_INIT)
_t0 = time.perf_counter()
snaps_nobn = train_dcgan(G_nobn, D_nobn, ablation_steps, SEED)
print(f"without BatchNorm ({ABLATION_INIT} initialisation): {ablation_steps} steps in {time.perf_counter() - _t0:.1f} s")
_with = next((s for s in snaps if s["step"] == ablation_steps), None)
if _with is None:  # the main run did not stop here: score it at its nearest snapshot
    _with = min(snaps, key=lambda s: abs(s["step"] - ablation_steps))
_nobn_final = snaps_nobn[-1]
_spread_nobn = generate(G_nobn, z_eval).std(0).mean().item()
_spread_bn = generate(G, z_eval).std(0).mean().item()
print(f"after {_with['step']} steps with BatchNorm: IS {_with['is']:.2f}, FID {_with['fid']:.1f}")
print(f"after {ablation_steps} steps without:      IS {_nobn_final['is']:.2f}, FID {_nobn_final['fid']:.1f}")
print(f"pixel standard deviation across samples: without BatchNorm {_spread_nobn:.3f}, with (final) {_spread_bn:.3f}, "
      f"real digits {train_x.std(0).mean():.3f}")
bn_is_gain = _with["is"] - _nobn_final["is"]
checks.milestone("bn_is_gain", bn_is_gain, 3.0, ">=",
                 note=f"IS with BatchNorm (paper initialisation) minus IS without ({ABLATION_INIT} initialisation), "
                      f"both after {ablation_steps} steps, same learning rate and data")

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, key, ref, label in [(axes[0], "is", IS_REAL, "held-out real digits"), (axes[1], "fid", FID_FLOOR, "floor: real training digits")]:
    ax.plot([s["step"] for s in snaps], [s[key] for s in snaps], marker="o", label="DCGAN (with BatchNorm)")
    ax.plot([s["step"] for s in snaps_nobn], [s[key] for s in snaps_nobn], marker="s", linestyle="--",
            label="same nets without BatchNorm")
    ax.axhline(ref, color="black", linestyle=":", label=label)
    ax.set(xlabel="training step")
axes[0].axhline(0.7 * IS_REAL, color="grey", linestyle="-.", label="milestone: 70 % of real")
axes[0].set(ylabel="Inception Score (judge)", title="IS as training goes (higher is better)", ylim=(0, 10.5))
axes[1].set(ylabel="FID to held-out digits (log scale)", yscale="log", title="FID as training goes (lower is better)")
axes[0].legend(loc="lower right", fontsize=8)
axes[1].legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()

show_rows([_nobn_final["grid"], _with["grid"]], ["without\nBatchNorm", "with\nBatchNorm"],
          f"The same 16 noise vectors after {ablation_steps} steps")
plt.show()
SECTION_SECONDS["6. Without BatchNorm"] = time.perf_counter() - t_section

# %% [markdown]
# With BatchNorm the IS passes 70 % of the real digits' within the first 500 steps (on our five seeds) and keeps
# climbing while the FID falls towards the floor (the curves above; final values printed in section 5). It does
# not reach the real digits: the generated digits are less clean, and the FID need not fall at every snapshot,
# because the game does not settle (lesson 14). That is why the FID milestone is a loose multiple of the floor.
#
# Without BatchNorm, with the paper's initialisation, the same nets do not get started in the same number of
# steps: the IS stays near 1 (at most about 2 on our five seeds) and the FID is many times the DCGAN's at the
# same step. The grid shows why: G draws (nearly) the same image, or a few variants of it, for every noise
# vector. The pixel spread across samples printed above is a small fraction of the real digits' (about a tenth
# on four of our five seeds, about half on the fifth). This is the failure the paper describes: the generator collapses all
# samples to a single point. With weights of size 0.02 and no normalisation, each layer shrinks what it
# receives, so the part of G's output that depends on z starts tiny; the biases alone can learn one image, D
# rejects it, G moves it, and variety never appears. BatchNorm rescales each layer's output to unit spread
# whatever the weights, so the differences between noise vectors reach the output. (It is not the only fix:
# `-p ABLATION_INIT pytorch` runs the no-BatchNorm nets with PyTorch's larger default initialisation; see
# whether they start, and how fast.)
#
# **What scale changes.** The paper's generators are deeper (four transposed convolutions up to 64×64
# pixels). Our judge is small and knows only ten classes, so an IS near the real digits' is much easier to
# reach than a high Inception Score on ImageNet, and our FIDs are not comparable with published ones. The
# lesson of the table in section 2 carries over: report each score next to the real data's, at the same
# sample size, and read IS and FID together.

# %% [markdown]
# ## 7. The latent space: interpolation and arithmetic
#
# **Which digits does G make?** We draw 5,000 noise vectors and let the judge classify their images. A
# generator that drops a class shows it here, before any picture.

# %%
t_section = time.perf_counter()
n_latent = 1000 if SMOKE else 5000
z_pool = sample_z(n_latent, torch.Generator().manual_seed(SEED + 2))
pool_imgs = generate(G, z_pool)
pool_probs = j.probs(pool_imgs)
pool_conf, pool_class = pool_probs.max(1)
share = torch.bincount(pool_class, minlength=10).float() / n_latent
print("share of each class among G's samples:", " ".join(f"{c}:{s:.1%}" for c, s in enumerate(share.tolist())))
print(f"judged with confidence > 0.9: {(pool_conf > 0.9).float().mean():.1%} of G's samples, "
      f"{(held_probs.max(1).values > 0.9).float().mean():.1%} of the held-out digits")
record.metric("smallest_class_share", share.min().item())

fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(range(10), share.numpy(), color=plot.COLORS[0], label=f"G's samples ({n_latent:,})")
ax.axhline(0.1, color="black", linestyle=":", label="real digits: 10 % each")
ax.set(xlabel="class the judge gives", ylabel="share of samples", xticks=range(10),
       title="Which digits does the generator make?")
ax.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# **Latent interpolation.** The paper walked along straight lines between noise vectors in the **latent space**
# (the space of z). If G had memorised
# isolated images, the walk would jump abruptly; if it learned a smooth map, the image morphs. We take pairs of
# samples the judge confidently calls different digits, and decode 11 evenly spaced points
# z(t) = (1 − t)·z_a + t·z_b. (The noise is uniform in a cube, so every point of the segment is a noise vector G
# was trained on.)

# %%
T_VALUES = [round(t, 1) for t in np.linspace(0, 1, 11)]
confident = pool_conf > 0.9


def pick(c, k=0):
    """The k-th noise vector of the pool whose image the judge calls class c with confidence > 0.9."""
    idx = ((pool_class == c) & confident).nonzero().squeeze(1)
    if len(idx) == 0:  # G makes no confident c: fall back on its most c-like sample
        idx = pool_probs[:, c].argsort(descending=True)
    return z_pool[idx[k % len(idx)]]


PAIRS = [(0, 6), (1, 7), (3, 8), (4, 9), (2, 5), (7, 0)]
interp = {}
for a, b in PAIRS:
    za, zb = pick(a), pick(b)
    zs = torch.stack([(1 - t) * za + t * zb for t in T_VALUES])
    imgs = generate(G, zs)
    interp[f"{a} → {b}"] = {"imgs": imgs, "probs": j.probs(imgs)}

fig, axes = plt.subplots(len(PAIRS), len(T_VALUES), figsize=(9, 0.95 * len(PAIRS) + 0.6))
for row, (name, res) in zip(axes, interp.items()):
    for col, ax in enumerate(row):
        ax.imshow(res["imgs"][col, 0], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(int(res["probs"][col].argmax())), fontsize=7, pad=1)
    row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
for col, t in enumerate(T_VALUES):
    axes[-1, col].set_xlabel(f"t={t:g}", fontsize=8)
fig.suptitle("Straight lines in z between two digits (small number: the judge's class)")
plt.show()

# %% [markdown]
# **Latent arithmetic.** The paper averaged the z of three samples per concept before doing arithmetic
# (single samples were unstable). We average more: z̄_c, the mean noise vector of all pool samples the judge
# confidently calls c. Two questions, each with a number:
#
# 1. Is the average a member of its class? Decode G(z̄_c) for each c and ask the judge.
# 2. Does **z − z̄_a + z̄_b** turn a sample z of digit a into a b? This is the paper's "smiling woman −
#    neutral woman + neutral man" with digits: remove what the a's share, add what the b's share. We try it
#    for every ordered pair of classes (a ≠ b), on up to 30 confident samples of each class a, and count how
#    often the judge calls the result b. Chance would be about 10 %, but a fairer comparison is a **control**:
#    move the same z by a *random* direction of the same length as z̄_b − z̄_a. If that also made b's, the
#    class means would carry no special information; any large step away from an a would do.
#
# We compute both for every step size s in z + s·(z̄_b − z̄_a) at once (s = 1 is the paper's arithmetic); the
# widget further down uses the other values of s.

# %%
z_means = torch.stack([z_pool[(pool_class == c) & confident].mean(0) if ((pool_class == c) & confident).any()
                       else pick(c) for c in range(10)])
mean_imgs = generate(G, z_means)
mean_class = j.probs(mean_imgs).argmax(1)
means_decoded = int((mean_class == torch.arange(10)).sum())
print(f"G(mean z of class c) is judged c for {means_decoded} of 10 classes: {mean_class.tolist()}")
checks.milestone("class_means_decoded", means_decoded, 8, ">=",
                 note=f"classes c whose mean noise vector (over confident samples among {n_latent}) G decodes into "
                      "an image the judge calls c")
_n_per_class = torch.bincount(pool_class[confident], minlength=10).clamp_min(1).float()
_random_len = z_pool.norm(dim=1).mean() / _n_per_class.sqrt()  # length of a mean of n random noise vectors
print(f"length of the class means |z̄_c|: {z_means.norm(dim=1).min():.2f} to {z_means.norm(dim=1).max():.2f}; a typical "
      f"noise vector's: {z_pool.norm(dim=1).mean():.2f}; a mean of as many random noise vectors: "
      f"{_random_len.min():.2f} to {_random_len.max():.2f}")

# %%
S_VALUES = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]  # step sizes s of z + s·(z̄_b − z̄_a); s = 1 is the paper's arithmetic
N_SRC = 30  # confident samples of each class a that are moved
_gdir = torch.Generator().manual_seed(SEED + 3)
_steps = torch.tensor(S_VALUES, device=device).view(-1, 1, 1)
src_z = {a: z_pool[(pool_class == a) & confident][:N_SRC] for a in range(10)}
_moved, _control, _sizes = [], [], []
for a in range(10):
    for b in range(10):
        d = z_means[b] - z_means[a]
        r = torch.randn(len(src_z[a]), LATENT, generator=_gdir).to(device)
        r = r / r.norm(dim=1, keepdim=True) * d.norm()  # a random direction per sample, as long as z̄_b − z̄_a
        _moved.append((src_z[a][None] + _steps * d).reshape(-1, LATENT))  # (len(S_VALUES) · n, LATENT)
        _control.append((src_z[a][None] + _steps * r[None]).reshape(-1, LATENT))
        _sizes.append(len(src_z[a]) * len(S_VALUES))
_all_z = torch.cat(_moved + _control)  # 2 × 100 pairs × 6 step sizes × up to 30 samples
_all_imgs = generate(G, _all_z) if len(_all_z) else torch.zeros(0, 1, 8, 8)  # empty: G makes no confident digit yet
_all_class = torch.cat([j.probs(x).argmax(1) for x in _all_imgs.split(4000)] + [torch.zeros(0, dtype=torch.long)])  # in chunks: less memory
_n_pairs = 100
_img_parts, _cls_parts = _all_imgs.split(_sizes + _sizes), _all_class.split(_sizes + _sizes)
arith_imgs, arith_cls, rate_b, rate_ctrl, n_src = {}, {}, torch.zeros(10, 10, len(S_VALUES)), torch.zeros(10, 10, len(S_VALUES)), {}
for k in range(_n_pairs):
    a, b = divmod(k, 10)
    n = len(src_z[a])
    n_src[a] = n
    if n == 0:
        continue
    cls, ctrl = _cls_parts[k].view(len(S_VALUES), n), _cls_parts[_n_pairs + k].view(len(S_VALUES), n)
    arith_imgs[a, b] = _img_parts[k].view(len(S_VALUES), n, 1, 8, 8)[:, :8]  # 8 shown in the widget
    arith_cls[a, b] = cls[:, :8]
    rate_b[a, b] = (cls == b).float().mean(1)
    rate_ctrl[a, b] = (ctrl == b).float().mean(1)
print(f"{len(_all_imgs):,} images decoded and judged for the step sizes s = {S_VALUES}")

# %%
_s1 = S_VALUES.index(1.0)
_w = torch.tensor([[n_src[a] * (a != b) for b in range(10)] for a in range(10)], dtype=torch.float)  # tries per pair
_tries = _w.sum().item()
transfer_rate = (rate_b[:, :, _s1] * _w).sum().item() / _tries if _tries > 0 else 0.0  # 0 tries: G makes no confident digit yet
control_rate = (rate_ctrl[:, :, _s1] * _w).sum().item() / _tries if _tries > 0 else 0.0
print(f"z - z̄_a + z̄_b judged b: {transfer_rate:.1%} of {int(_tries)} tries over the 90 ordered pairs (a ≠ b)")
print(f"control, z + a random direction as long as z̄_b - z̄_a, judged b: {control_rate:.1%} of the same tries "
      f"(chance: about 10 %)")
checks.milestone("arithmetic_rate", transfer_rate, 0.50, ">=",
                 note=f"share of z - mean z(a) + mean z(b) that the judge calls b; up to {N_SRC} confident samples per "
                      f"class a, all 90 pairs (a, b); class means over {n_latent} samples")
record.metric("arithmetic_control_rate", control_rate)

# %%
_src = z_pool[(pool_class == 3) & confident][:4] if ((pool_class == 3) & confident).sum() >= 4 else z_pool[:4]
_rows = [torch.cat([mean_imgs[3:4], mean_imgs])]
_rows += [torch.cat([generate(G, z[None]), generate(G, z - z_means[3] + z_means)]) for z in _src]
show_rows(_rows, ["class means\nG(z̄_b)"] + [f"3 number {r}\nz − z̄₃ + z̄_b" for r in range(1, 5)],
          "Latent arithmetic: the decoded class means (top); four 3s moved to every class b (below)",
          col_titles=["source"] + [f"b = {b}" for b in range(10)], height=1.0)
plt.show()
SECTION_SECONDS["7. Latent space"] = time.perf_counter() - t_section

# %% [markdown]
# Most decoded class means are judged to be their class (the count printed above). The class means are short
# vectors, near the centre of the cube, but several times longer than a mean of as many *random* noise vectors
# would be (both printed above): each class sits off-centre in a direction of its own. Moving a sample by
# z̄_b − z̄_a lands it in class b far more often than chance, and far more often than a random step of the same
# length (both rates printed above), though not always. The
# rows of the figure also differ from one another and from the top row: the rest of z, the sample's own offset
# from its class mean, still shapes the result. At 8×8 pixels it is hard to name what that offset encodes;
# the paper's faces had richer attributes (pose, glasses, a smile).
#
# This is the structure the paper found with faces: the generator lays out its noise space so that directions
# mean something, although nothing in the game asks for it.

# %% [markdown]
# **Explore** latent arithmetic beyond what the figure shows: pick the class a you start from, the class b you
# aim for, and the step size s in z + s·(z̄_b − z̄_a). The top rows show 8 samples of a before and after the
# step, each titled with the judge's class (green when it is b). The curve below gives, for this pair, the
# share of the moved samples judged b at every s, next to the random direction of the same length. Try a pair
# whose rate at s = 1 is low, and see whether a longer step gets there, and what the images look like then.

# %%
def draw_arithmetic(a, b, s):
    si = S_VALUES.index(s)
    fig = plt.figure(figsize=(10, 5.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.3, 2])
    if (a, b) not in arith_imgs:  # G makes no confident a yet (a SMOKE run)
        top.suptitle(f"G makes no sample the judge calls {a} with confidence > 0.9", fontsize=11)
    else:
        rows = top.subplots(2, 8, squeeze=False)
        for r, (imgs, cls) in enumerate([(arith_imgs[a, b][0], arith_cls[a, b][0]), (arith_imgs[a, b][si], arith_cls[a, b][si])]):
            for c, ax in enumerate(rows[r]):
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(imgs):
                    ax.imshow(imgs[c, 0], cmap="gray", vmin=0, vmax=1)
                    ax.set_title(str(int(cls[c])), fontsize=8, pad=1, color=plot.COLORS[2] if int(cls[c]) == b else "black")
            rows[r, 0].set_ylabel("z" if r == 0 else f"s = {s:g}", rotation=0, ha="right", va="center", fontsize=9)
        top.suptitle(f"Samples of {a} (top) moved by s·(z̄_{b} − z̄_{a}) with s = {s:g} (below); "
                     "titles: the judge's class", fontsize=11)
    ax = bottom.subplots()
    ax.plot(S_VALUES, rate_b[a, b].numpy(), marker="o", label=f"z + s·(z̄_{b} − z̄_{a})")
    ax.plot(S_VALUES, rate_ctrl[a, b].numpy(), marker="s", linestyle="--", label="z + s·(random direction, same length)")
    ax.axvline(s, color="grey", linestyle=":", label=f"current s = {s:g}")
    ax.set(xlabel="step size s", ylabel=f"share judged {b}", ylim=(-0.03, 1.03),
           title=f"Share of {n_src.get(a, 0)} confident samples of {a} that the judge calls {b} after the step")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)


widgets.explore_grid(draw_arithmetic, {"a": list(range(10)), "b": list(range(10)), "s": S_VALUES},
                     {"a": 3, "b": 8, "s": 1.0});

# %% [markdown]
# ## 8. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: the Inception Score as two entropies
#
# Expand the KL divergence inside the IS and it splits in two: IS = exp( H(p(y)) − mean over x of H(p(y | x)) ),
# where H(q) = −Σ q log q is the entropy. The first term is large when the classes are *varied*, the second
# small when each image is *clear*. Write `is_from_entropies(probs)` that way. The check compares it with
# section 2's `inception_score` on the held-out digits and on random probabilities.

# %% tags=["exercise"]
def is_from_entropies(probs):
    """exp(H(marginal) - mean H(per-image)) for class probabilities (N, C); returns a float."""
    # TODO: compute the marginal p(y) = probs.mean(0), the two entropies, and return the exponential.
    return None

# %% tags=["solution"]
def is_from_entropies(probs):
    """exp(H(marginal) - mean H(per-image)) for class probabilities (N, C); returns a float."""
    p = probs.double().clamp_min(1e-12)
    p_y = p.mean(0)
    h_marginal = -(p_y * p_y.log()).sum()
    h_each = -(p * p.log()).sum(1).mean()
    return (h_marginal - h_each).exp().item()

# %% tags=["check"]
_rand_probs = torch.softmax(torch.randn(200, 10, generator=torch.Generator().manual_seed(3)) * 2, 1)
_yours = is_from_entropies(held_probs)
checks.check(_yours is not None, "is_from_entropies returned None: the TODO has not been filled in yet.",
             ok_message="is_from_entropies returns a value.",
             hint="H(q) = -(q * q.log()).sum(); the marginal is probs.mean(0).")
checks.check(1 - 1e-9 <= _yours <= 10 + 1e-9,
             f"is_from_entropies gave {_yours:.4g}: an Inception Score lies between 1 and the number of classes (10)",
             ok_message="the score lies between 1 and 10.",
             hint="Both entropies are sums of -q log q (mind the sign), and the per-image one is subtracted.")
checks.check_close([_yours, is_from_entropies(_rand_probs)], [inception_score(held_probs), inception_score(_rand_probs)],
                   "IS from entropies vs section 2's inception_score (held-out digits, random probabilities)",
                   rtol=1e-6, hint="Subtract the mean per-image entropy from the marginal's entropy, then exp.")
print(f"held-out digits: IS from the two entropies {_yours:.2f}, from the KL form {inception_score(held_probs):.2f}")

# %% [markdown]
# The maximum of H(p(y)) is log 10, reached by equally used classes, and the minimum of each H(p(y | x)) is
# 0, reached by certain predictions: hence IS ≤ 10. A generator can push the first term up and the second
# down without making anything that looks like a digit *to us*, if it finds images the judge is sure
# about: the IS trusts its classifier completely.
#
# ### Exercise 2: the Fréchet distance in one dimension
#
# For one feature, the two Gaussians are N(μ_a, σ_a²) and N(μ_b, σ_b²): each covariance matrix is a single
# number, the variance. Work out what section 2's formula ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2(Σ_a Σ_b)^½) becomes,
# simplify it, and write `fid_1d(mu_a, sd_a, mu_b, sd_b)`. The check compares it with
# `frechet_distance` on large samples, and shows what the FID charges for a wrong mean and for a wrong spread.

# %% tags=["exercise"]
def fid_1d(mu_a, sd_a, mu_b, sd_b):
    """Fréchet distance between N(mu_a, sd_a²) and N(mu_b, sd_b²)."""
    # TODO: one line; in 1-D, Σ = sd², and the trace of a 1×1 matrix is its only entry.
    return None

# %% tags=["solution"]
def fid_1d(mu_a, sd_a, mu_b, sd_b):
    """Fréchet distance between N(mu_a, sd_a²) and N(mu_b, sd_b²)."""
    return (mu_a - mu_b) ** 2 + (sd_a - sd_b) ** 2

# %% tags=["check"]
_g1 = torch.Generator().manual_seed(4)
_cases = [(0.0, 1.0, 2.0, 1.0), (0.0, 1.0, 0.0, 0.25), (1.0, 2.0, -1.0, 0.5)]
_yours = [fid_1d(*c) for c in _cases]
checks.check(None not in _yours, "fid_1d returned None: the TODO has not been filled in yet.",
             ok_message="fid_1d returns values.", hint="Σa = sd_a², so (Σa Σb)^½ = sd_a·sd_b.")
_sampled = [frechet_distance(torch.randn(200000, 1, generator=_g1) * sa + ma, torch.randn(200000, 1, generator=_g1) * sb + mb)
            for ma, sa, mb, sb in _cases]
checks.check_close(_yours, _sampled, "fid_1d vs frechet_distance on 200,000 samples per Gaussian", rtol=0.02, atol=0.01,
                   hint="The variance terms sd_a² + sd_b² − 2·sd_a·sd_b form a perfect square.")
for c, y in zip(_cases, _yours):
    print(f"N({c[0]:g}, {c[1]:g}²) vs N({c[2]:g}, {c[3]:g}²): FID {y:.3f}")

# %% [markdown]
# A shift of two standard deviations costs 4; shrinking the spread to a quarter, as a generator that makes
# too little variety would, costs 0.5625 even with the right mean. The IS cannot see the second kind of
# error at all.
#
# ## Going further
#
# * **Code.** The paper's own code (Theano): [github.com/Newmu/dcgan_code](https://github.com/Newmu/dcgan_code);
#   Soumith Chintala's Torch version: [github.com/soumith/dcgan.torch](https://github.com/soumith/dcgan.torch);
#   the PyTorch example: [github.com/pytorch/examples/tree/main/dcgan](https://github.com/pytorch/examples/tree/main/dcgan).
# * **Scores.** Salimans et al. (2016, [arXiv:1606.03498](https://arxiv.org/abs/1606.03498)) introduced the
#   Inception Score; Barratt & Sharma, *A Note on the Inception Score* (2018,
#   [arXiv:1801.01973](https://arxiv.org/abs/1801.01973)), list its pitfalls. Heusel et al. (2017,
#   [arXiv:1706.08500](https://arxiv.org/abs/1706.08500)) introduced the FID (lesson 16 uses their two
#   time-scale rule); Bińkowski et al., *Demystifying MMD GANs* (2018,
#   [arXiv:1801.01401](https://arxiv.org/abs/1801.01401)), show the FID's bias at small sample sizes and
#   propose the Kernel Inception Distance. Lucic et al., *Are GANs Created Equal?* (2017,
#   [arXiv:1711.10337](https://arxiv.org/abs/1711.10337)), compare GAN variants by FID over many seeds.
# * **Upsampling.** Odena, Dumoulin & Olah, *Deconvolution and Checkerboard Artifacts* (Distill, 2016,
#   [distill.pub/2016/deconv-checkerboard](https://distill.pub/2016/deconv-checkerboard/)). White, *Sampling
#   Generative Networks* (2016, [arXiv:1609.04468](https://arxiv.org/abs/1609.04468)): spherical instead of
#   straight-line interpolation for Gaussian noise.
# * **Try it.** `-p ABLATION_INIT pytorch` (does BatchNorm still matter with a larger initialisation?),
#   `-p BETA1 0.9` (Adam's usual β₁, which the paper found to oscillate), `-p LR 1e-3`, `-p STEPS 4000`,
#   `-p LATENT 4` (a very small noise space: what happens to the classes G makes?).
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:28s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["scores_max_rel_diff", "layers_max_diff", "is_ratio", "fid_ratio",
                                                "bn_is_gain", "class_means_decoded", "arithmetic_rate"])
