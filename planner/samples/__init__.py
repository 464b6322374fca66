"""Built-in sample data: a synthetic infant head CT with known ground truth.

- :func:`make_head` builds the CT (a :class:`~planner.scan.volume.Volume`), a label volume and
  the ground truth (:class:`HeadTruth`: true bone volumes, landmarks, a suggested plan).
- :func:`write_ct_series` writes any volume as a genuine CT DICOM series.
- :func:`signed_distance` gives the anatomy's signed distance functions.

Nothing here is patient data. pydicom is imported only when writing.
"""

from planner.samples.dicomwrite import write_ct_series
from planner.samples.head import (
    GAP_MM,
    HU,
    LABELS,
    HeadTruth,
    SampleHead,
    head_truth,
    make_head,
    signed_distance,
)

__all__ = [
    "GAP_MM",
    "HU",
    "LABELS",
    "HeadTruth",
    "SampleHead",
    "head_truth",
    "make_head",
    "signed_distance",
    "write_ct_series",
]
