"""vaedyn: repeated inference in variational autoencoders (Nagano, Karakida & Okada, 2020)."""
from .training.classifier import ClassifierCNN, get_or_train_classifier, predict_labels
from .analysis.concepts import (abstract_concept, active_units, components_for, concept_set, concept_vectors,
                       cosine_similarity_matrix, memory_vectors, orthogonality, rms_off_diagonal_cosine)
from .config import (ClassifierConfig, ConfigError, Profile, TrainConfig, get_profile, learning_rate,
                     resolve_device)
from .data import CLASS_NAMES, DATASET_TITLES, load_dataset
from .analysis.distances import distance_over_time, is_approaching, mahalanobis_over_time, min_over_time
from .analysis.pca import cumulative_contribution, principal_components, windowed_pca
from .analysis.trials import Trials, run_trials
from .analysis.inference import Trajectory, noisy_starts, repeated_inference
from .model import ConvVAE, VAE
from .noise import inject_noise
from .objective import bernoulli_log_likelihood, elbo_terms, gaussian_kl
from .training.store import CorruptArtifactError, get_or_train, list_artifacts
from .training.loop import TrainingDivergedError, evaluate, train

__version__ = "0.1.0"
