"""Planning's pure domain: plans and their staleness reasons."""
