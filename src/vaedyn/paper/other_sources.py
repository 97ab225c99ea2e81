"""Claims of the other documents in the reference folder, which chapters 09-10 follow: Gentili's
notes on VAEs and neuroscience, the EM-to-SVI tutorial, and Peşte, Malagò & Sârbu on the latent
geometry of VAEs. They sit in the registry beside the paper's claims, in their own section of the
claims page. None depends on the noise reading or on the main model."""
from __future__ import annotations

from .rules import NOT, PARTLY, REPRODUCED, Claim, in_range, share, within

PESTE, GENTILI, BLOG = "Peşte et al.", "Gentili", "EM-to-SVI tutorial"
AFTER_ONE_MODEL = ("after we had seen the value of one N_z = 30 model; the thresholds follow the source's "
                   "numbers, not ours")


def _geodesic_sharper(interval: list[float]) -> str:
    """[mean, low, high] of the paired difference in steepest step, geodesic minus straight line."""
    return REPRODUCED if interval[1] > 0 else PARTLY if interval[0] > 0 else NOT


def _claim(*args, **kwargs) -> Claim:
    return Claim(*args, noise_dependent=False, main_model=False, **kwargs)


CLAIMS: tuple[Claim, ...] = (
    _claim("gentili.kl_rises", "Gentili: KL", "The KL term grows during training while the loss falls", "rises",
           "09_training_dynamics", lambda v: v["kl_rises_fraction"], lambda f: share(f, 1.0, 0.5),
           "share of latent sizes whose test KL is larger after the last epoch than after the first: "
           "1.0 reproduced, >= 0.5 partly", unit="of latent sizes", source=GENTILI),
    _claim("em_svi.four_nine_adjacent", "EM-to-SVI: 2-D map", "In a 2-D latent space the digits 4 and 9 lie next "
           "to each other", "adjacent", "09_training_dynamics", lambda v: v["rank_4_9"],
           lambda r: REPRODUCED if r <= 3 else PARTLY if r <= 10 else NOT,
           "rank of the 4-9 pair among the 45 class pairs by distance between class means: <= 3 reproduced, "
           "<= 10 partly", unit="of 45 pairs", source=BLOG),
    _claim("em_svi.two_d_loss_148", "EM-to-SVI: 2-D loss", "A VAE with a 2-D latent space reaches a test loss of "
           "about 148 nats", "148", "09_training_dynamics", lambda v: v["two_d_test_negative_elbo"],
           lambda n: within(n, 148, 5, 15),
           "|ours - 148| <= 5 reproduced, <= 15 partly (their model is convolutional)", unit="nats", source=BLOG),
    _claim("peste.informative_saturates", "Peşte: Fig. 2 (left)", "The number of informative latent components "
           "stops growing with the latent size", "saturates", "10_latent_representations",
           lambda v: v["informative_growth_last"], lambda g: REPRODUCED if g <= 0.1 else PARTLY if g <= 0.25 else NOT,
           "relative growth of the mean count (eigenvalue > 0.01) between the two largest N_z of the Fig. 8 grid: "
           "<= 0.1 reproduced, <= 0.25 partly", unit="(relative growth)", source=PESTE),
    _claim("peste.axis_aligned", "Peşte: Sec. 2.1", "The principal directions of the posterior means align with "
           "the latent axes", "aligned", "10_latent_representations", lambda v: v["axis_alignment"],
           lambda a: REPRODUCED if a >= 0.9 else PARTLY if a >= 0.7 else NOT,
           "mean largest |entry| of the informative eigenvectors (1 = along an axis) of the largest plain study "
           "model: >= 0.9 reproduced, >= 0.7 partly", fixed=AFTER_ONE_MODEL, source=PESTE),
    _claim("peste.renyi_gap_shrinks", "Peşte: Fig. 2 (right)", "As alpha falls to 0 the Renyi bound comes closer "
           "to the log-likelihood", "gap shrinks", "10_latent_representations", lambda v: v["gap_shrinks_fraction"],
           lambda f: share(f, 1.0, 0.5),
           "share of latent sizes where (IW estimate - Renyi bound) is smaller at the smallest alpha than at "
           "alpha = 1: 1.0 reproduced, >= 0.5 partly", unit="of latent sizes", source=PESTE),
    _claim("peste.probe_93", "Peşte: Fig. 3 (left)", "A linear probe on the posterior means reaches 93-94 % test "
           "accuracy", "0.93-0.94", "10_latent_representations", lambda v: v["best_probe_mean"],
           lambda a: in_range(a, (0.92, 0.95), (0.88, 0.99)),
           "best accuracy over latent sizes after the last epoch in [0.92, 0.95] reproduced, in [0.88, 0.99] partly",
           fixed=AFTER_ONE_MODEL, source=PESTE),
    _claim("peste.variance_helps", "Peşte: Fig. 3 (centre)", "Adding the posterior variances to the means improves "
           "the probe", "improves", "10_latent_representations", lambda v: v["variance_helps_fraction"],
           lambda f: share(f, 1.0, 0.5),
           "share of latent sizes where mean+variance beats mean after the last epoch: 1.0 reproduced, "
           ">= 0.5 partly", unit="of latent sizes", source=PESTE),
    _claim("peste.variance_bulge", "Peşte: Fig. 4", "The variance grows along the Fisher-Rao geodesic between two "
           "posteriors", "grows", "10_latent_representations", lambda v: v["variance_bulge_fraction"],
           lambda f: share(f, 0.9, 0.5),
           "share of image pairs whose mean sigma along the geodesic rises above both ends: >= 0.9 reproduced, "
           ">= 0.5 partly", unit="of pairs", source=PESTE),
    _claim("peste.geodesic_sharper", "Peşte: Fig. 5", "Decoding along the geodesic gives a slightly sharper "
           "transition than along the straight line", "sharper", "10_latent_representations",
           lambda v: v["sharpness_difference"], _geodesic_sharper,
           "paired difference of the largest one-step rise in the classifier's probability of the end class "
           "(geodesic minus straight line between means), mean [95 % interval]: interval above 0 reproduced, "
           "mean above 0 partly", source=PESTE),
)
