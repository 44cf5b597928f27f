"""What a run leaves on disk: atomic files, the HDF5 evaluation archive, checkpoints, the run directory."""
from .archive import Archive, read_archive
from .atomic import atomic_write_bytes, atomic_write_text
from .rundir import RunDir

__all__ = ["Archive", "read_archive", "atomic_write_bytes", "atomic_write_text", "RunDir"]
