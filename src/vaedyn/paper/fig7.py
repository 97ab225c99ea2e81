"""Fig. 7: the latent space of the N_z = 100 model, measured by chapter 06: how many latent units
are active, how many principal components the memory vectors need, and how orthogonal the concept
vectors are at that size. The measurements themselves are `analysis.concepts` and `analysis.pca`;
this module holds the claims that judge them (none depends on the noise)."""
from __future__ import annotations

from .rules import AFTER_QUICK, NOT, PARTLY, REPRODUCED, Claim, within

CHAPTER_06_RULES = ("written in chapter 06 with its first version; whether before its first run is not "
                    "recorded (moved into the registry unchanged, issue 10)")

CLAIMS: tuple[Claim, ...] = (
    Claim("fig7a.active_units_14", "Fig. 7a", "Only 14 of 100 latent units are active", "14", "06_latent_geometry",
          lambda v: v["active_units"], lambda n: within(n, 14, 3, 7),
          "units whose mean varies over the data by more than 0.01: |ours - 14| <= 3 reproduced, <= 7 partly",
          noise_dependent=False, unit="units"),
    Claim("fig7b.components_70_is_9", "Fig. 7b", "Nine principal components explain 70 % of the latent variance",
          "9", "06_latent_geometry", lambda v: v["components_70"], lambda n: within(n, 9, 2, 4),
          "|ours - 9| <= 2 reproduced, <= 4 partly", noise_dependent=False, unit="components"),
    Claim("fig7b.components_all_14", "Fig. 7b", "About 14 components explain (nearly) all of the variance", "14",
          "06_latent_geometry", lambda v: v["components_99"], lambda n: within(n, 14, 3, 7),
          "components for 99 %: |ours - 14| <= 3 reproduced, <= 7 partly", fixed=CHAPTER_06_RULES,
          noise_dependent=False, unit="components"),
    Claim("fig7.concepts_orthogonal", "Figs. 7-8 (N_z = 100)", "At N_z = 100 the concept vectors are nearly "
          "orthogonal", "near-orthogonal", "06_latent_geometry", lambda v: v["rms_off_diagonal_cosine"],
          lambda r: REPRODUCED if r <= 0.15 else PARTLY if r <= 0.3 else NOT,
          "root-mean-square off-diagonal cosine of the ten concept vectors: <= 0.15 reproduced, <= 0.3 partly",
          fixed=CHAPTER_06_RULES, noise_dependent=False),
    Claim("suppD.fig7a.most_units_pruned", "Supp. D (Fig. 7a)", "For Fashion-MNIST too, most of the 100 latent "
          "units are inactive", "qualitatively as MNIST", "06_latent_geometry", lambda v: v["active_units"],
          lambda n: REPRODUCED if n <= 30 else PARTLY if n <= 50 else NOT,
          "active units of 100 (variance of the mean > 0.01): <= 30 reproduced, <= 50 partly",
          fixed=AFTER_QUICK + "; Supp. D assumed to cover Fig. 7", dataset="fashion_mnist", noise_dependent=False,
          unit="units"),
)
