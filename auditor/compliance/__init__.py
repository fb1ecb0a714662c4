"""Compliance: turn query rows into machine facts, judge them against the rules, and measure the fleet."""
