"""Media: image processing, storage backends, link cards and their HTML."""
