# ---
# jupyter:
#   course:
#     idea: the minimax game and the non-saturating generator loss written out and checked
#       against binary cross-entropy; the saturating loss's vanishing gradient measured
#       at the start; the optimal discriminator of Proposition 1 against a trained one;
#       a GAN on a ring of 8 Gaussians with its densities and decision surface drawn
#       as it trains; mode collapse when the generator steps too often
#     number: '14'
#     papers:
#     - arxiv: '1406.2661'
#       authors: Ian J. Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David
#         Warde-Farley, Sherjil Ozair, Aaron Courville, Yoshua Bengio
#       title: Generative Adversarial Nets
#       year: 2014
#     title: 'GAN: the adversarial game'
#     track: generative
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
# # 14 · 2014 · GAN: the adversarial game
#
# **Paper**
#
# * Ian J. Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David Warde-Farley, Sherjil Ozair, Aaron
#   Courville, Yoshua Bengio (2014). *Generative Adversarial Nets.* NIPS 2014.
#   [arXiv:1406.2661](https://arxiv.org/abs/1406.2661)
#
# ## The problem before this paper
#
# A **generative model** learns to produce new samples that look like its training data. In 2014 the deep
# ones (Boltzmann machines, deep belief networks) wrote down a probability density and maximised its
# likelihood. That density needs a normalising constant, a sum over every possible input, which cannot be
# computed for a deep model; training fell back on Markov chains that mix slowly, and sampling did too.
# Variational autoencoders (Kingma & Welling, December 2013) had just found one way around it, by
# maximising a bound on the likelihood.
#
# ## The key idea
#
# Do not write the density at all. A **generator** G turns random noise z into a sample G(z); a
# **discriminator** D looks at a sample and outputs the probability that it came from the data rather than
# from G. The two play a **minimax game**:
#
# min over G, max over D of V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))].
#
# D is trained to tell real from fake (a plain binary classifier); G is trained to fool it. Both are
# ordinary networks trained by backpropagation: no Markov chain, no inference. The paper proves two things
# about the game. For a fixed G, the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x))
# (Proposition 1). With that D, the game's value is −log 4 + 2·JSD(p_data ‖ p_g), where JSD is the
# Jensen–Shannon divergence, so it is smallest exactly when the generator's distribution p_g equals the
# data's (Theorem 1).
#
# Two practical remarks in the paper matter as much as the theory. Early in training G is poor, D rejects
# its samples with confidence, and log(1 − D(G(z))) **saturates**: its gradient vanishes. So G is trained
# instead to maximise log D(G(z)), the **non-saturating loss**: same fixed point, much stronger gradients at
# the start. And G must not be trained too much without updating D, or it maps too many z to the same x
# (the paper calls it "the Helvetica scenario"); this is now called **mode collapse**.
#
# ## What changed after
#
# GANs became the way to generate sharp images for the rest of the decade: convolutional GANs (DCGAN, 2015,
# lesson 15), more stable losses and normalisations (lesson 16), StyleGAN's faces (lesson 17) and
# image-to-image translation (lesson 18). Training them stayed an art: the game need not converge, and mode
# collapse remained the typical failure. From about 2021, diffusion models took over image generation.
#
# ## What we do here, and what scale changes
#
# Everything on a toy the generator can be seen learning: a ring of 8 small Gaussian blobs in the plane.
#
# 1. The game's losses written out and checked against PyTorch's binary cross-entropy.
# 2. The saturating and the non-saturating loss's gradients, measured at the start of training.
# 3. Proposition 1: a discriminator trained on two known densities, against the formula.
# 4. **The reproduction**: a GAN learns the ring; its samples and D's decision surface drawn as training
#    goes, with a widget to scrub through the steps; modes counted.
# 5. Mode collapse: the same GAN with the generator stepping three times per discriminator step.
#
# The paper's networks generated 28×28 digits and 32×32 colour images; ours map 2 numbers to 2 numbers.
# What carries over is the game and its failure modes, which a 2-D toy lets us see and count exactly.

# %% [markdown]
# ## 中文导读
#
# 2014 年以前，深度**生成模型**（玻尔兹曼机、深度信念网络）要写出概率密度并最大化似然，而密度的归一化常数无法计算，
# 训练和采样都依赖混合很慢的马尔可夫链。Goodfellow 等人的**生成对抗网络**（GAN）不写密度：**生成器** G 把随机噪声 z
# 变成样本 G(z)，**判别器** D 输出一个样本来自真实数据的概率。两者进行**极小极大博弈**：
# V(D, G) = E[log D(x)] + E[log(1 − D(G(z)))]，D 要分辨真假，G 要骗过 D，两者都用反向传播训练。
# 论文证明：G 固定时，**最优判别器**是 D*(x) = p_data / (p_data + p_g)（命题 1）；此时博弈的值是
# −log 4 + 2·JS 散度，当且仅当 p_g = p_data 时最小（定理 1）。
#
# 论文还指出两个实际问题：训练初期 D 能自信地拒绝假样本，log(1 − D(G(z))) **饱和**，梯度消失，所以改为让 G 最大化
# log D(G(z))，即**非饱和损失**；G 不能在不更新 D 的情况下训练太多，否则会把许多 z 映射到同一个 x，这就是**模式崩溃**。
#
# 本课在平面上由 8 个小高斯分布组成的圆环上实验：(1) 写出两种损失并与 PyTorch 的二元交叉熵核对；(2) 在训练开始时
# 测量饱和损失与非饱和损失的梯度之比（里程碑）；(3) 在两个已知密度上训练判别器，与命题 1 的公式比较（里程碑）；
# (4) **复现**：GAN 学会圆环，随训练画出样本密度和 D 的判别面，用交互控件按训练步数浏览；样本覆盖 8 个模式中
# 至少 7 个（里程碑：一个模式在其中心 3 个标准差之内至少有均匀份额的四分之一的样本时才算被覆盖）；
# (5) 让生成器每步更新三次，观察模式崩溃，覆盖的模式更少（里程碑）。论文生成的是手写数字和小图像，
# 我们的网络只把 2 个数变成 2 个数；能带过去的是博弈本身和它的失败方式。所有数字都来自本课的运行结果。
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

import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): initialisation, noise and the training samples
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: a few steps of everything; every code path in seconds; milestones reported, not asserted
STEPS = 3000  # training steps of the main GAN (one D step, then one G step), from 50 to 20000
BATCH = 256  # real and fake samples per step, from 16 to 2048
LR = 1e-3  # Adam learning rate of both networks, from 1e-5 to 1e-2
LATENT = 2  # size of the noise vector z, from 1 to 64
WIDTH = 128  # hidden units in each of the two hidden layers of G and D, from 8 to 512
G_LOSS = "non-saturating"  # generator loss of the main GAN: "non-saturating" or "saturating"
D_WARMUP = 200  # discriminator-only steps before the gradients of section 3 are measured, from 10 to 2000
COLLAPSE_G_STEPS = 3  # generator steps per discriminator step in the mode-collapse run, from 2 to 10
COLLAPSE_STEPS = 1000  # discriminator steps of the mode-collapse run, from 50 to 20000
SNAPSHOT_EVERY = 150  # steps between the snapshots drawn by the widget, from 10 to 2000

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=50, max=20000),
    BATCH=params.Int(min=16, max=2048),
    LR=params.Float(min=1e-5, max=1e-2),
    LATENT=params.Int(min=1, max=64),
    WIDTH=params.Int(min=8, max=512),
    G_LOSS=params.Choice(["non-saturating", "saturating"]),
    D_WARMUP=params.Int(min=10, max=2000),
    COLLAPSE_G_STEPS=params.Int(min=2, max=10),
    COLLAPSE_STEPS=params.Int(min=50, max=20000),
    SNAPSHOT_EVERY=params.Int(min=10, max=2000),
)
LR = P["LR"]  # an int becomes a float
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("14")
plt.show()

# %% [markdown]
# ## 1. The data: a ring of 8 Gaussians
#
# `data.gaussian_mixture` draws points from 8 equally likely round Gaussian blobs, centred on a circle of
# radius 2, each with standard deviation 0.05. It is a standard test for GANs because its **modes** (the 8
# blobs) are far apart: a generator can be good on some of them and miss others entirely, and we can count
# which.
#
# Because we know how the data were made, we also know their density exactly:
# p_data(x) = (1/8) Σₖ N(x; cₖ, 0.05² I). Section 4 needs it.
#
# **Counting modes.** We draw `N_EVAL` = 4,000 samples from a generator. A sample is **high quality** when
# it lies within 3 standard deviations (0.15) of some centre: a real sample does so with probability
# 1 − e^(−4.5) ≈ 98.9 %. A mode is **covered** when it holds at least a quarter of its fair share of the
# samples within that radius, i.e. at least 4,000 / 8 / 4 = 125 of them.

# %%
t_section = time.perf_counter()
STD, RADIUS, MODES = 0.05, 2.0, 8
N_EVAL = 500 if SMOKE else 4000
real_eval, real_labels, centres = data.gaussian_mixture(N_EVAL, modes=MODES, radius=RADIUS, std=STD, seed=12345)
centres = centres.to(device)


def log_mixture_density(x, centres, std):
    """log of (1/K) Σₖ N(x; cₖ, std² I) for points x (n, 2): an equal-weight mixture of round Gaussians."""
    sq = torch.cdist(x, centres) ** 2  # (n, K) squared distances to the centres
    log_normal = -sq / (2 * std ** 2) - math.log(2 * math.pi * std ** 2)
    return torch.logsumexp(log_normal, 1) - math.log(len(centres))


def mode_stats(samples, n_sigma=3.0):
    """(modes covered, share of high-quality samples, samples per mode) for a batch of samples (n, 2)."""
    dist = torch.cdist(samples.to(device), centres)  # (n, 8)
    near = dist.min(1).values < n_sigma * STD
    per_mode = torch.bincount(dist.argmin(1)[near], minlength=MODES)
    covered = int((per_mode >= len(samples) / MODES / 4).sum())
    return covered, near.float().mean().item(), per_mode.cpu()


_covered, _quality, _per_mode = mode_stats(real_eval)
print(f"{N_EVAL} real samples: {_covered} of {MODES} modes covered, {_quality:.1%} high quality; per mode "
      f"{_per_mode.tolist()}")
checks.check(_covered == MODES and abs(_quality - (1 - math.exp(-4.5))) < 0.01,
             "the real data should cover every mode with about 98.9 % high-quality samples",
             ok_message="the mode count passes the real data: all modes, about 98.9 % within 3 std.")
# The density integrates to 1 (a sum over a fine grid covering the ring).
_g = torch.linspace(-2.6, 2.6, 521)
_grid = torch.stack(torch.meshgrid(_g, _g, indexing="xy"), -1).reshape(-1, 2).to(device)
_mass = log_mixture_density(_grid, centres, STD).exp().sum().item() * (_g[1] - _g[0]).item() ** 2
checks.check_close(_mass, 1.0, "the integral of p_data over the plane", atol=1e-3)

fig, ax = plt.subplots(figsize=(4.6, 4.4))
ax.scatter(*real_eval[:1000].T, s=3, alpha=0.5, label="1,000 real samples")
ax.scatter(*centres.cpu().T, marker="x", color=plot.COLORS[3], s=40, label="mode centres")
ax.set(xlim=(-2.8, 2.8), ylim=(-2.8, 2.8), aspect="equal", xlabel="x₁", ylabel="x₂",
       title="The data: 8 Gaussians (std 0.05) on a ring")
ax.legend(loc="center", fontsize=8)
plt.show()
SECTION_SECONDS["1. Data"] = time.perf_counter() - t_section

# %% [markdown]
# ## 2. The two players and the game's losses
#
# Both players are small fully connected networks with two hidden layers of `WIDTH` units. G maps a noise
# vector z ~ N(0, I) of `LATENT` numbers to a point of the plane. D maps a point to one number, a
# **logit** l; D(x) = σ(l), the sigmoid, is its probability that x is real. D uses LeakyReLU (a small slope
# for negative inputs) so that its gradient with respect to its input, the only signal G receives, is never
# exactly zero.
#
# Written with logits, the losses are:
#
# * **discriminator**: maximise log D(x) + log(1 − D(G(z))), i.e. minimise −log σ(l_real) − log(1 − σ(l_fake));
# * **generator, saturating** (the game as written): minimise log(1 − D(G(z))) = log(1 − σ(l_fake));
# * **generator, non-saturating** (the paper's practical choice): minimise −log D(G(z)) = −log σ(l_fake).
#
# Since 1 − σ(l) = σ(−l), both are log-sigmoids of the logit. `F.logsigmoid` computes log σ(l) without
# forming σ(l) first, so a logit of ±50 does not produce log 0.

# %%
t_section = time.perf_counter()


def mlp(n_in, n_out, width, activation):
    return nn.Sequential(nn.Linear(n_in, width), activation(), nn.Linear(width, width), activation(),
                         nn.Linear(width, n_out))


def make_generator():
    return mlp(LATENT, 2, WIDTH, nn.ReLU).to(device)


def make_discriminator():
    return mlp(2, 1, WIDTH, lambda: nn.LeakyReLU(0.2)).to(device)


def log_d(logit):  # log D = log σ(l)
    return F.logsigmoid(logit)


def log_one_minus_d(logit):  # log(1 − D) = log(1 − σ(l)) = log σ(−l)
    return F.logsigmoid(-logit)


def d_loss(logit_real, logit_fake):
    """The discriminator's loss: minus the game's value V(D, G) estimated on a batch."""
    return -(log_d(logit_real).mean() + log_one_minus_d(logit_fake).mean())


def g_loss(logit_fake, kind):
    """The generator's loss: log(1 − D(G(z))) ("saturating") or −log D(G(z)) ("non-saturating")."""
    return log_one_minus_d(logit_fake).mean() if kind == "saturating" else -log_d(logit_fake).mean()


torch.manual_seed(SEED)
_G, _D = make_generator(), make_discriminator()
_z = torch.randn(5, LATENT, device=device)
checks.check_shape(_G(_z), (5, 2), "G(z): one point of the plane per noise vector")
checks.check_shape(_D(_G(_z)), (5, 1), "D(G(z)): one logit per point")

# %% [markdown]
# **Checked against PyTorch.** The discriminator's loss is a binary cross-entropy with label 1 for real
# and 0 for fake, and the non-saturating generator loss is the same with label 1 for the fakes; the
# saturating loss is minus the cross-entropy with label 0. `F.binary_cross_entropy_with_logits` computes
# these from the logits; we compare on logits from −30 to 30, where a naive log(sigmoid) would break.

# %%
_logits_real = torch.linspace(-30, 30, 1001, dtype=torch.float64)
_logits_fake = torch.linspace(30, -30, 1001, dtype=torch.float64)
_ones, _zeros = torch.ones_like(_logits_real), torch.zeros_like(_logits_real)
_bce = F.binary_cross_entropy_with_logits
loss_diffs = {
    "discriminator": (d_loss(_logits_real, _logits_fake)
                      - (_bce(_logits_real, _ones) + _bce(_logits_fake, _zeros))).abs().item(),
    "generator, non-saturating": (g_loss(_logits_fake, "non-saturating") - _bce(_logits_fake, _ones)).abs().item(),
    "generator, saturating": (g_loss(_logits_fake, "saturating") + _bce(_logits_fake, _zeros)).abs().item(),
}
for name, diff in loss_diffs.items():
    print(f"{name:26s} ours vs F.binary_cross_entropy_with_logits: |difference| {diff:.1e}")
# Per logit, not only on average: the gradients of the two generator losses with respect to the logit.
_l = torch.linspace(-30, 30, 1001, dtype=torch.float64, requires_grad=True)
_grad_ns, = torch.autograd.grad(-log_d(_l).sum(), _l)
_grad_sat, = torch.autograd.grad(log_one_minus_d(_l).sum(), _l)
_sig = torch.sigmoid(_l.detach())
grad_formula_diff = max((_grad_ns + (1 - _sig)).abs().max().item(), (_grad_sat + _sig).abs().max().item())
print(f"d/dl of the two generator losses vs −(1 − σ(l)) and −σ(l): max |difference| {grad_formula_diff:.1e}")
checks.milestone("loss_max_diff", max(*loss_diffs.values(), grad_formula_diff), 1e-9, "<=",
                 note="max |ours - F.binary_cross_entropy_with_logits| over the D loss and both G losses, and "
                      "their logit gradients vs the closed forms, float64 logits from -30 to 30")
SECTION_SECONDS["2. Losses"] = time.perf_counter() - t_section

# %% [markdown]
# ## 3. Why the non-saturating loss: the gradient at the start
#
# The gradients printed above in closed form tell the whole story. With respect to the fake's logit l,
# the saturating loss log(1 − σ(l)) has gradient −σ(l) = −D(G(z)); the non-saturating loss −log σ(l) has
# −(1 − D(G(z))). When D rejects a fake confidently, D(G(z)) is close to 0: the first gradient is close to
# 0, the second close to −1. Both push the logit up (the generator wants its fakes to look real), but one
# whispers and the other shouts. Their ratio is (1 − D(G(z))) / D(G(z)).
#
# **The measurement.** A fresh generator and discriminator; the discriminator alone trains for `D_WARMUP`
# steps against the untrained generator. This recreates the situation the paper describes early in training,
# when D rejects G's fakes with confidence. (Our balanced toy run in section 5 hardly passes through it: there
# D and G start together and D stays between about 0.3 and 0.7 at first, as its panels show.) Then we measure each loss's gradient with respect to all of G's weights, on the same
# batch, and compare their sizes (the Euclidean norm over all of G's weights).

# %%
t_section = time.perf_counter()
torch.manual_seed(SEED)
G0, D0 = make_generator(), make_discriminator()
opt_d0 = torch.optim.Adam(D0.parameters(), lr=LR, betas=(0.5, 0.999))
warmup_steps = 20 if SMOKE else D_WARMUP
warm_data, _, _ = data.gaussian_mixture(warmup_steps * BATCH, modes=MODES, radius=RADIUS, std=STD, seed=SEED + 1)
warm_data = warm_data.to(device)
for step in range(warmup_steps):
    with torch.no_grad():
        fake = G0(torch.randn(BATCH, LATENT, device=device))
    loss = d_loss(D0(warm_data[step * BATCH:(step + 1) * BATCH]), D0(fake))
    opt_d0.zero_grad(set_to_none=True)
    loss.backward()
    opt_d0.step()

z_probe = torch.randn(1024, LATENT, device=device)


def g_grad_norm(kind):
    """Euclidean norm of the gradient of a generator loss with respect to all of G0's weights."""
    G0.zero_grad(set_to_none=True)
    g_loss(D0(G0(z_probe)), kind).backward()
    return torch.cat([p.grad.flatten() for p in G0.parameters()]).norm().item()


with torch.no_grad():
    d_fake0 = torch.sigmoid(D0(G0(z_probe))).squeeze(1)
    d_real0 = torch.sigmoid(D0(real_eval[:1024].to(device))).squeeze(1)
norm_sat, norm_ns = g_grad_norm("saturating"), g_grad_norm("non-saturating")
grad_ratio = norm_ns / norm_sat
print(f"after {warmup_steps} discriminator steps: mean D(x) on real points {d_real0.mean():.3f}, mean D(G(z)) on "
      f"fakes {d_fake0.mean():.4f} (median {d_fake0.median():.4f})")
print(f"|gradient| over G's weights: saturating {norm_sat:.2e}, non-saturating {norm_ns:.2e}; ratio {grad_ratio:.0f}")
print(f"the per-sample prediction (1 - D)/D, averaged over the batch: {((1 - d_fake0) / d_fake0).mean():.0f}; at the "
      f"median D(G(z)): {(1 - d_fake0.median()) / d_fake0.median():.0f}")
record.metric("d_fake_at_start", d_fake0.mean().item())
checks.milestone("grad_ratio_at_start", grad_ratio, 100.0, ">=",
                 note=f"|∇ of -log D(G(z))| / |∇ of log(1-D(G(z)))| over G's weights, after {warmup_steps} "
                      "discriminator-only steps against the untrained generator (1,024 noise vectors)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
_p = np.logspace(-4, np.log10(1 - 1e-4), 500)
ax = axes[0]
ax.semilogx(_p, np.log(1 - _p), label="saturating: log(1 − D(G(z)))  (minimised)")
ax.semilogx(_p, -np.log(_p), label="non-saturating: −log D(G(z))  (minimised)")
ax.axvspan(float(d_fake0.min()), float(d_fake0.max()), color="grey", alpha=0.3, label="D(G(z)) of our fakes at the start")
ax.set(xlabel="D(G(z)): the discriminator's probability that a fake is real (log scale)", ylabel="generator loss",
       title="The two generator losses", ylim=(-5, 10))
ax.legend(loc="lower left", fontsize=8)
ax = axes[1]
ax.loglog(_p, _p, label="saturating: |gradient| = D(G(z))")
ax.loglog(_p, 1 - _p, label="non-saturating: |gradient| = 1 − D(G(z))")
ax.hist(d_fake0.cpu().numpy(), bins=np.logspace(-4, 0, 41), weights=np.full(len(d_fake0), 1 / len(d_fake0)),
        color="grey", alpha=0.5, label="our fakes at the start (share per bin)")
ax.set(xlabel="D(G(z)) (log scale)", ylabel="|d loss / d logit| (log scale)",
       title="Their gradients with respect to the fake's logit", ylim=(1e-4, 2))
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()
SECTION_SECONDS["3. Gradients at the start"] = time.perf_counter() - t_section

# %% [markdown]
# Left: the saturating loss is flat where our fakes are (grey band), the non-saturating one steep (on a log
# axis its curve is a straight line: −log D falls by 2.3 for every factor of ten in D). Right:
# the gradient with respect to the logit on log axes; the grey histogram shows where the fakes sit. The
# gradient over G's weights is larger for the non-saturating loss by the ratio printed above, hundreds of
# times on our five seeds, of the same order as the per-sample prediction (1 − D)/D: the chain rule through
# G multiplies both losses' per-sample gradients by the same d logit / d weights, so the factor carries
# through (not exactly, because the per-sample factors differ and their contributions add as vectors).
#
# Two honest caveats. First, this is the gradient's *size*; with plain stochastic gradient descent the step
# is proportional to it, and a ratio in the hundreds means the saturating generator barely moves. Adam
# (lesson 02), which we use below, divides each step by a running estimate of the gradient's size, and so
# undoes much of a uniform shrink; the two losses still weight the samples differently (the saturating one
# learns mostly from the fakes D already half-accepts). `-p G_LOSS saturating` trains the main GAN below with
# the saturating loss, to see what is left of the problem with Adam. Second, the two losses share fixed points,
# but not their dynamics: the non-saturating loss is no longer minus D's loss, so the game is not zero-sum.

# %% [markdown]
# ## 4. The optimal discriminator (Proposition 1)
#
# For a fixed generator, D maximises E_data[log D(x)] + E_g[log(1 − D(x))]. Point by point, a·log y +
# b·log(1 − y) is largest at y = a / (a + b), so
#
# D*(x) = p_data(x) / (p_data(x) + p_g(x)).
#
# To check that a trained network finds it, we need two densities we know, and a D* smooth enough for a
# small network to draw in a few seconds. (Our data's blobs are only 0.05 wide: a D* with bumps that sharp
# takes a network far longer to learn than the rest of this lesson.) So here both densities are blurred
# versions of the ring, built with the same `data.gaussian_mixture`: the "data" p_a has the 8 centres with
# std 0.2, and the "generator" p_b the same centres with twice that spread, std 0.4. Near a centre p_a is
# denser and D* = 4/5 there (the ratio of the two peaks is 2² = 4); further out the wide blobs win and D*
# falls towards 0. A fresh discriminator trains on samples of both, exactly as in the game but with G
# replaced by the fixed p_b; we compare D(x) with D*(x) on points drawn from both, and along a line through
# one mode.

# %%
t_section = time.perf_counter()
A_STD, B_STD = 0.2, 0.4  # the two known densities of this section: p_a ("data") and p_b ("generator")
dstar_steps = 50 if SMOKE else 1500
torch.manual_seed(SEED)
D_star_net = make_discriminator()
opt_star = torch.optim.Adam(D_star_net.parameters(), lr=LR, betas=(0.5, 0.999))
_real, _, _ = data.gaussian_mixture(dstar_steps * BATCH, modes=MODES, radius=RADIUS, std=A_STD, seed=SEED + 2)
_wide, _, _ = data.gaussian_mixture(dstar_steps * BATCH, modes=MODES, radius=RADIUS, std=B_STD, seed=SEED + 3)
_real, _wide = _real.to(device), _wide.to(device)
for step in range(dstar_steps):
    batch = slice(step * BATCH, (step + 1) * BATCH)
    loss = d_loss(D_star_net(_real[batch]), D_star_net(_wide[batch]))
    opt_star.zero_grad(set_to_none=True)
    loss.backward()
    opt_star.step()


def d_star(x):
    """Proposition 1 for our two known densities: p_a / (p_a + p_b) = σ(log p_a − log p_b)."""
    return torch.sigmoid(log_mixture_density(x, centres, A_STD) - log_mixture_density(x, centres, B_STD))


# Compare on 4,000 points, half from p_data and half from p_g (fixed for every SEED).
_probe_real, _, _ = data.gaussian_mixture(N_EVAL // 2, modes=MODES, radius=RADIUS, std=A_STD, seed=777)
_probe_wide, _, _ = data.gaussian_mixture(N_EVAL // 2, modes=MODES, radius=RADIUS, std=B_STD, seed=778)
probe = torch.cat([_probe_real, _probe_wide]).to(device)
with torch.no_grad():
    d_trained = torch.sigmoid(D_star_net(probe)).squeeze(1)
dstar_gap = (d_trained - d_star(probe)).abs().mean().item()
blind_gap = (0.5 - d_star(probe)).abs().mean().item()  # a discriminator that ignores x and says 1/2
print(f"{dstar_steps} discriminator steps on p_a vs p_b: mean |D(x) − D*(x)| over {len(probe)} points from both "
      f"densities {dstar_gap:.3f} (largest {(d_trained - d_star(probe)).abs().max():.3f}); a blind D = 1/2: "
      f"{blind_gap:.3f}")
with torch.no_grad():
    print(f"D* at a centre: {d_star(centres[:1]).item():.3f} (4/5 by hand); trained D there: "
          f"{torch.sigmoid(D_star_net(centres[:1])).item():.3f}")
checks.milestone("dstar_mean_abs_gap", dstar_gap, 0.15, "<=",
                 note=f"mean |trained D - p_a/(p_a+p_b)| on 4,000 points from both densities; the ring with std "
                      f"{A_STD:g} vs {B_STD:g}; {dstar_steps} Adam steps")

# %%
_r = torch.linspace(0.5, 3.5, 301, device=device)
_line = torch.stack([_r, torch.zeros_like(_r)], 1)  # a line through the mode at (2, 0), along its radius
with torch.no_grad():
    _d_line = torch.sigmoid(D_star_net(_line)).squeeze(1)
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(_r.cpu(), d_star(_line).cpu(), color="black", linewidth=2.5, label="D* = p_a / (p_a + p_b), by formula")
ax.plot(_r.cpu(), _d_line.cpu(), color=plot.COLORS[1], linestyle="--", linewidth=2, label="trained discriminator")
_dens_d, _dens_g = log_mixture_density(_line, centres, A_STD).exp(), log_mixture_density(_line, centres, B_STD).exp()
ax.fill_between(_r.cpu(), 0, (_dens_d / _dens_d.max()).cpu(), color=plot.COLORS[0], alpha=0.15,
                label="p_a, the 'data' (scaled to peak 1)")
ax.fill_between(_r.cpu(), 0, (_dens_g / _dens_d.max()).cpu(), color=plot.COLORS[3], alpha=0.15,
                label="p_b, the 'generator' (same scale)")
ax.set(xlabel="x₁ along the line x₂ = 0, through the mode at (2, 0)", ylabel="probability that x is real",
       title="Proposition 1: the trained discriminator finds D*", ylim=(0, 1.05))
ax.legend(loc="upper left", fontsize=8)
plt.show()
SECTION_SECONDS["4. Optimal D"] = time.perf_counter() - t_section

# %% [markdown]
# The trained network follows the formula across the mode (the mean gap printed above, several times
# smaller than a blind D's): D* is not "1 on the data, 0 elsewhere" but a ratio of densities, below 1 even at
# the centre because the wide p_b puts mass there too. Where neither density puts any mass, D* is 0/0,
# nothing trains D, and the network outputs whatever its layers extrapolate: that is why we measure the gap
# on points drawn from the two densities. This is the fact the game rests on: a well-trained D tells G, point
# by point, how much denser the data are than its own samples.

# %% [markdown]
# ## 5. Training the GAN
#
# The paper's Algorithm 1, with k = 1 discriminator step per generator step (the value its experiments
# used): each step draws a batch of real points and a batch of noise, takes one Adam step on D's loss, then
# draws fresh noise and takes one Adam step on G's loss. Adam's β₁ is 0.5, the value DCGAN later made
# standard for GANs (lesson 15). The fakes in D's step are detached, so D's step does not move G.
#
# Every `SNAPSHOT_EVERY` steps we keep a **snapshot**: G's samples for a fixed set of `N_EVAL` noise
# vectors, and D's probability on a grid covering the plane (its **decision surface**). The widget below
# redraws these; nothing retrains.

# %%
t_section = time.perf_counter()
GRID_N = 60
_axis = torch.linspace(-2.8, 2.8, GRID_N)
grid_points = torch.stack(torch.meshgrid(_axis, _axis, indexing="xy"), -1).reshape(-1, 2).to(device)
z_eval = torch.randn(N_EVAL, LATENT, generator=torch.Generator().manual_seed(99)).to(device)  # fixed noise


def snapshot(G, D, step):
    with torch.no_grad():
        samples = G(z_eval).cpu()
        surface = torch.sigmoid(D(grid_points)).view(GRID_N, GRID_N).cpu()
    covered, quality, per_mode = mode_stats(samples)
    return {"step": step, "samples": samples, "surface": surface, "covered": covered, "quality": quality,
            "per_mode": per_mode}


def train_gan(steps, g_steps_per_d_step, loss_kind, seed):
    """Algorithm 1 of the paper with k = 1: one D step, then `g_steps_per_d_step` G steps. Returns snapshots."""
    torch.manual_seed(seed)
    G, D = make_generator(), make_discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.5, 0.999))
    real_all, _, _ = data.gaussian_mixture(steps * BATCH, modes=MODES, radius=RADIUS, std=STD, seed=seed + 10)
    real_all = real_all.to(device)
    snaps, every = [snapshot(G, D, 0)], max(1, min(SNAPSHOT_EVERY, steps // 4))
    for step in range(1, steps + 1):
        fake = G(torch.randn(BATCH, LATENT, device=device)).detach()  # D's step does not move G
        loss_d = d_loss(D(real_all[(step - 1) * BATCH:step * BATCH]), D(fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        for _ in range(g_steps_per_d_step):
            loss_g = g_loss(D(G(torch.randn(BATCH, LATENT, device=device))), loss_kind)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()  # D's weights get gradients too, but only opt_g steps; opt_d zeroes them first
            opt_g.step()
        if step % every == 0 or step == steps:
            snaps.append(snapshot(G, D, step))
    return snaps


train_steps = 60 if SMOKE else STEPS
_t0 = time.perf_counter()
snaps = train_gan(train_steps, 1, G_LOSS, SEED)
final = snaps[-1]
print(f"{train_steps} steps ({G_LOSS} generator loss) in {time.perf_counter() - _t0:.1f} s")
print(f"final: {final['covered']} of {MODES} modes covered, {final['quality']:.1%} of the samples high quality; "
      f"samples per mode (within 3 std) {final['per_mode'].tolist()}")
print("modes covered at each snapshot:", " ".join(str(s["covered"]) for s in snaps))
checks.milestone("modes_covered", final["covered"], 7, ">=",
                 note=f"modes holding >= 1/4 of the fair share N/8 of {N_EVAL} samples within 3 std (0.15) of "
                      f"their centre, after {train_steps} steps")
record.metric("high_quality_share", final["quality"])
SECTION_SECONDS["5. Training"] = time.perf_counter() - t_section

# %%
def draw_snapshot(s, ax_density, ax_surface, title=""):
    """Left: a 2-D histogram of G's samples; right: D's probability that a point is real, with the samples."""
    ax_density.hist2d(s["samples"][:, 0].numpy(), s["samples"][:, 1].numpy(), bins=80,
                      range=[[-2.8, 2.8], [-2.8, 2.8]], cmap="magma", vmax=len(s["samples"]) / 400)
    ax_density.scatter(*centres.cpu().T, marker="x", color="white", s=25, linewidths=1)
    ax_density.set(xlabel="x₁", ylabel="x₂", aspect="equal",
                   title=f"{title}step {s['step']}: samples of G\n{s['covered']} of {MODES} modes, "
                         f"{s['quality']:.0%} high quality", xticks=[-2, 0, 2], yticks=[-2, 0, 2])
    im = ax_surface.imshow(s["surface"].numpy(), origin="lower", extent=(-2.8, 2.8, -2.8, 2.8), vmin=0, vmax=1,
                           cmap="RdBu")
    ax_surface.scatter(*s["samples"][:600].T, s=2, color="black", alpha=0.5)
    ax_surface.scatter(*centres.cpu().T, marker="x", color=plot.COLORS[1], s=25)
    ax_surface.set(xlabel="x₁", ylabel="x₂", title=f"step {s['step']}: D(x)\n600 samples of G (black)",
                   xticks=[-2, 0, 2], yticks=[-2, 0, 2], xlim=(-2.8, 2.8), ylim=(-2.8, 2.8))
    ax_surface.grid(False)
    ax_density.grid(False)
    return im


shown = [snaps[0], snaps[1], snaps[len(snaps) // 2], snaps[-1]]
fig, axes = plt.subplots(2, 4, figsize=(15, 8.4), layout="constrained")
for col, s in enumerate(shown):
    im = draw_snapshot(s, axes[0, col], axes[1, col])
fig.colorbar(im, ax=axes[1, :], shrink=0.8, label="D(x): probability that x is real")
fig.suptitle("The GAN learning the ring: G's samples (top) and D's decision surface (bottom)")
plt.show()

fig, ax = plt.subplots(figsize=(8, 3.4))
ax.plot([s["step"] for s in snaps], [s["covered"] for s in snaps], marker="o", label="modes covered (of 8)")
ax.plot([s["step"] for s in snaps], [8 * s["quality"] for s in snaps], marker="s", linestyle="--",
        label="share of high-quality samples (× 8)")
ax.axhline(7, color="grey", linestyle=":", label="milestone: 7 modes")
ax.set(xlabel="training step", ylabel="modes  /  share × 8", ylim=(-0.3, 8.5), title="Coverage as training goes")
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %% [markdown]
# At step 0 the untrained generator puts all its samples in a small patch near the origin and D is close
# to ½ everywhere (blue is "real", red "fake", white ½). Within the first couple of hundred steps G's
# samples spread out over the plane, and D turns red wherever they are too many and blue where the data
# still lack them; the samples then gather into a ring and onto the blobs. The bottom row shows the game at work: D's colours are G's next
# gradient. Late in training the blobs themselves turn **white**: where G puts as many samples as the
# data, D can do no better than ½, as Proposition 1 says (p_g = p_data gives D* = ½).
#
# At the end every blob holds samples (the counts printed above). The share of high-quality samples is
# below the data's 98.9 %, and it wobbles from snapshot to snapshot (the dashed curve): some samples lie
# on the thin bridges between blobs, because G is a continuous map from a connected noise space and
# cannot jump from one blob to the next without passing through the gap; and the game does not settle,
# it keeps oscillating around its equilibrium.
#
# **Explore**: drag the slider through the training steps. Watch where D is blue and red, and where G's
# samples go next.

# %%
def draw_step(step):
    s = next(s for s in snaps if s["step"] == step)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    im = draw_snapshot(s, axes[0], axes[1])
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="D(x)")
    fig.tight_layout()


widgets.explore(draw_step, [s["step"] for s in snaps], snaps[-1]["step"], "training step");

# %% [markdown]
# ## 6. Mode collapse
#
# The paper warns that "G must not be trained too much without updating D". Here is what happens when it
# is: the same GAN, the same learning rate, but `COLLAPSE_G_STEPS` generator steps after every
# discriminator step. Each time, G moves its samples to wherever the *current* D is most convinced, before D
# can react; the samples flock together, D then rejects that place, and the flock moves on. We train it for
# `COLLAPSE_STEPS` discriminator steps and count modes the same way.

# %%
t_section = time.perf_counter()
collapse_steps = 60 if SMOKE else COLLAPSE_STEPS
_t0 = time.perf_counter()
collapse_snaps = train_gan(collapse_steps, COLLAPSE_G_STEPS, "non-saturating", SEED)
collapsed = collapse_snaps[-1]
print(f"{collapse_steps} steps with {COLLAPSE_G_STEPS} G steps per D step in {time.perf_counter() - _t0:.1f} s")
print(f"final: {collapsed['covered']} of {MODES} modes covered, {collapsed['quality']:.1%} high quality; "
      f"samples per mode {collapsed['per_mode'].tolist()}")
print("modes covered at each snapshot:", " ".join(str(s["covered"]) for s in collapse_snaps))
_spread = collapsed["samples"].std(0).norm().item()
print(f"spread of the samples (root of the summed variances): collapsed {_spread:.2f}, main GAN "
      f"{final['samples'].std(0).norm().item():.2f}, the data {real_eval.std(0).norm().item():.2f}")
checks.milestone("collapsed_modes", collapsed["covered"], 3, "<=",
                 note=f"modes covered after {collapse_steps} steps with {COLLAPSE_G_STEPS} generator steps per "
                      "discriminator step (same rule as modes_covered)")
# the same code covers the ring with one G step per D step: the drop is caused by the step ratio alone
checks.milestone("collapse_drop", final["covered"] - collapsed["covered"], 4, ">=",
                 note="modes covered by the main run minus by the collapse run: same networks, data and "
                      "learning rate; only the generator's steps per discriminator step differ")
record.metric("collapsed_quality_share", collapsed["quality"])

fig, axes = plt.subplots(2, 3, figsize=(12, 8.4), layout="constrained")
for col, s in enumerate([collapse_snaps[len(collapse_snaps) // 3], collapse_snaps[2 * len(collapse_snaps) // 3],
                         collapse_snaps[-1]]):
    im = draw_snapshot(s, axes[0, col], axes[1, col])
fig.colorbar(im, ax=axes[1, :], shrink=0.8, label="D(x): probability that x is real")
fig.suptitle(f"Mode collapse: {COLLAPSE_G_STEPS} generator steps per discriminator step")
plt.show()
SECTION_SECONDS["6. Mode collapse"] = time.perf_counter() - t_section

# %% [markdown]
# Compare with the main run: the collapsed generator covers far fewer modes (printed above; on our five
# seeds, at most one), and its samples spread less than the data's. They bunch into a narrow streak that
# moves from snapshot to snapshot, mostly landing between blobs, where no mode counts it. D, stepping a third as often as G,
# is left nearly flat around ½: it has no time to draw the ring, so it gives G no steady direction, only a
# slope towards wherever it last saw fewer fakes. Nothing in the generator's loss asks for variety: −log D(G(z)) is
# computed sample by sample, so if one place fools the current D best, sending every z there is the
# generator's best reply. Only D's next step punishes it, and here D steps too rarely to keep up.
#
# Could this be a generator that simply failed to learn? An untrained G covers no modes either. Two things
# say otherwise: the flock moves across the plane from snapshot to snapshot (an untrained G stays put near
# the origin, as the step-0 panel of section 5 shows), and the same code with one G step per D step covered
# the whole ring. The milestone `collapse_drop` asserts that contrast: only the step ratio differs.
#
# Later work attacks this from both sides: letting G see D's future moves (unrolled GANs), letting D
# compare samples within a batch (minibatch discrimination), or changing the distance the game minimises
# (Wasserstein GANs); lesson 16 builds other remedies (the hinge loss, spectral normalisation, two learning
# rates).
#
# **What scale changes.** Real GANs map hundreds of noise numbers to images with millions of pixels, and a
# "mode" is a kind of image, not a blob we can list; counting modes needs a classifier (lesson 15 uses one)
# or statistics of a pretrained network (the Fréchet Inception Distance of Heusel et al., 2017). The game, the
# vanishing gradient of the saturating loss and the tendency to collapse are the same.

# %% [markdown]
# ## 7. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: the gradient ratio, by hand
#
# Write `predicted_ratio(d_fake)`: for a tensor of discriminator outputs D(G(z)) on fakes, the ratio of the
# non-saturating loss's gradient to the saturating one's, with respect to each fake's logit. Use the closed
# forms of section 3. The check compares with autograd.

# %% tags=["exercise"]
def predicted_ratio(d_fake):
    """|d(−log σ(l))/dl| / |d log(1 − σ(l))/dl| for each D(G(z)) = σ(l) in d_fake."""
    # TODO: write both gradients in terms of d_fake and divide.
    return None

# %% tags=["solution"]
def predicted_ratio(d_fake):
    """|d(−log σ(l))/dl| / |d log(1 − σ(l))/dl| for each D(G(z)) = σ(l) in d_fake."""
    return (1 - d_fake) / d_fake

# %% tags=["check"]
_logit = torch.tensor([-6.0, -3.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
_gns, = torch.autograd.grad(-log_d(_logit).sum(), _logit)
_gsat, = torch.autograd.grad(log_one_minus_d(_logit).sum(), _logit)
_yours = predicted_ratio(torch.sigmoid(_logit.detach()))
checks.check(_yours is not None, "predicted_ratio returned None: the TODO has not been filled in yet.",
             ok_message="predicted_ratio returns a value.", hint="Section 3 gives both gradients in terms of D(G(z)).")
checks.check_close(_yours, (_gns / _gsat).abs(), "ratio of the two gradients at logits -6, -3, 0, 2", rtol=1e-6,
                   hint="The saturating gradient is −D(G(z)); the non-saturating one is −(1 − D(G(z))).")
print(f"at a logit of -6 (D(G(z)) = {torch.sigmoid(torch.tensor(-6.0)):.4f}) the non-saturating gradient is "
      f"{_yours[0]:.0f} times larger; at logit 0 the two are equal")

# %% [markdown]
# At D(G(z)) = ½ (logit 0) the two losses push equally hard; the ratio grows like e^(−l) as D rejects the
# fake more confidently.
#
# ### Exercise 2: the game's value at the optimum
#
# Theorem 1 of the paper: with the optimal discriminator, the game's value is
# V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g), and −log 4 ≈ −1.386 exactly when p_g = p_data. Write
# `game_value(d_on_real, d_on_fake)`, the Monte Carlo estimate of V(D, G) from D's probabilities on real
# samples and on fake samples. The check feeds it D*'s outputs for the two densities of section 4 (p_a as
# the data, p_b as the generator), and for p_g = p_data (where D* = ½ everywhere).

# %% tags=["exercise"]
def game_value(d_on_real, d_on_fake):
    """Estimate of E_data[log D(x)] + E_g[log(1 − D(x))] from probabilities (tensors of values in (0, 1))."""
    # TODO: average log D over the real samples, and log(1 − D) over the fakes; add.
    return None

# %% tags=["solution"]
def game_value(d_on_real, d_on_fake):
    """Estimate of E_data[log D(x)] + E_g[log(1 − D(x))] from probabilities (tensors of values in (0, 1))."""
    return d_on_real.log().mean() + (1 - d_on_fake).log().mean()

# %% tags=["check"]
_half = torch.full((1000,), 0.5)
_v_equal = game_value(_half, _half)
checks.check(_v_equal is not None, "game_value returned None: the TODO has not been filled in yet.",
             ok_message="game_value returns a value.", hint="Use .log().mean() on each tensor.")
checks.check_close(_v_equal, -math.log(4), "V(D*, G) when p_g = p_data (D* = 1/2 everywhere)", atol=1e-6,
                   hint="log(1/2) + log(1 - 1/2) = -log 4.")
with torch.no_grad():
    _v_wide = game_value(d_star(_probe_real.to(device)), d_star(_probe_wide.to(device)))
    # the reference, by another route: log σ(t) = −softplus(−t) and log(1 − σ(t)) = −softplus(t), t = log p_a − log p_b
    _t_real = log_mixture_density(_probe_real.to(device), centres, A_STD) - log_mixture_density(_probe_real.to(device), centres, B_STD)
    _t_wide = log_mixture_density(_probe_wide.to(device), centres, A_STD) - log_mixture_density(_probe_wide.to(device), centres, B_STD)
    _v_ref = float(-F.softplus(-_t_real).mean() - F.softplus(_t_wide).mean())
checks.check_close(_v_wide, _v_ref, "V(D*, G) for section 4's two densities", atol=1e-3,
                   hint="Average the logs, not the log of the average; the fakes enter through log(1 − D).")
print(f"V(D*, G) = {float(_v_wide):.3f} > -log 4 = {-math.log(4):.3f}: the generator's density differs from the data's")
print(f"so JSD(p_a ‖ p_b) ≈ ({float(_v_wide):.3f} + log 4) / 2 = {(float(_v_wide) + math.log(4)) / 2:.3f} nats "
      f"(at most log 2 = {math.log(2):.3f})")

# %% [markdown]
# The estimate of the Jensen–Shannon divergence printed above lies between 0 (equal densities) and log 2
# (densities that never overlap). That upper bound is the root of a later complaint: when p_g and p_data
# do not overlap at all, the JSD is stuck at log 2 whatever G does, and an optimal D gives G no useful
# direction. The Wasserstein GAN (Arjovsky, Chintala & Bottou, 2017) replaced it by a distance that keeps
# changing as the distributions approach.
#
# ## Going further
#
# * **Code.** The paper's own code (Theano and Pylearn2): [github.com/goodfeli/adversarial](https://github.com/goodfeli/adversarial).
# * **Follow-ups.** Radford, Metz & Chintala, *Unsupervised Representation Learning with Deep Convolutional
#   Generative Adversarial Networks* (DCGAN, 2015, [arXiv:1511.06434](https://arxiv.org/abs/1511.06434),
#   lesson 15). Metz, Poole, Pfau & Sohl-Dickstein, *Unrolled Generative Adversarial Networks* (2016,
#   [arXiv:1611.02163](https://arxiv.org/abs/1611.02163)), whose experiments include a ring of 8 Gaussians
#   like ours. Salimans et al., *Improved Techniques for Training GANs* (2016,
#   [arXiv:1606.03498](https://arxiv.org/abs/1606.03498)): minibatch discrimination against collapse.
#   Arjovsky, Chintala & Bottou, *Wasserstein GAN* (2017, [arXiv:1701.07875](https://arxiv.org/abs/1701.07875)).
# * **Try it.** `-p G_LOSS saturating` (does Adam rescue the saturating loss here?), `-p LATENT 8` (more
#   noise numbers than the data have dimensions: compare the modes covered), `-p COLLAPSE_G_STEPS 2`,
#   `-p BATCH 16` (a tiny batch).
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:28s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["loss_max_diff", "grad_ratio_at_start", "dstar_mean_abs_gap",
                                                "modes_covered", "collapsed_modes", "collapse_drop"])
