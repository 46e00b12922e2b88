"""Automation: schedules that follow the roadmap phases, sensors that react to file drops, failure report."""
