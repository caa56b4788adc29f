"""The responder's tools: the incident scenario behind the audit log, detection rules and statistical
detectors, forensics and the red-team/blue-team capstone (modules 13-15)."""
