"""Deploy targets (tools/targets) against the simulator fakes."""
