"""Every data set the lessons use, each a function that returns arrays or tensors.

Default data is offline: real digits that ship with scikit-learn, procedural sets
generated here from a fixed seed, translation pairs generated with babel/num2words,
and text that ships with an installed package. Optional larger sets are fetched by
:func:`fetch`, verified by SHA-256 against ``datasets/manifest.toml``.

The data directory is ``$COURSE_DATA_DIR`` if set, otherwise the ``datasets/`` folder
next to this package (never the working directory: nbval, papermill and JupyterLab
each start kernels in a different folder).

The functions live in one module per domain (``store``, ``vision``, ``text``, ``toy``);
lessons use them through this package: ``from course_utils import data``.
"""

from .store import DownloadError, data_dir, fetch, manifest
from .text import DATE_BUCKET_KEYS, DATE_FORMATS, DATE_LENGTH_BUCKETS, CharVocab, DATE_LOCALES, NUMBER_LANGS, check_unambiguous, date_length_bucket, date_pairs, date_task, format_date_words, number_pairs, text_corpus
from .toy import gaussian_mixture
from .vision import DOMAINS, SHAPE_CLASSES, digits_on_canvas, load_digits, shapes_scenes

__all__ = [
    "data_dir",
    "manifest",
    "load_digits",
    "digits_on_canvas",
    "shapes_scenes",
    "SHAPE_CLASSES",
    "DOMAINS",
    "gaussian_mixture",
    "date_pairs",
    "date_task",
    "date_length_bucket",
    "DATE_LENGTH_BUCKETS",
    "DATE_BUCKET_KEYS",
    "format_date_words",
    "check_unambiguous",
    "CharVocab",
    "DATE_FORMATS",
    "number_pairs",
    "text_corpus",
    "fetch",
    "DownloadError",
]

