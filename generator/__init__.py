"""Text-to-video generators behind one protocol (`generator.base.VideoGenerator`)."""
