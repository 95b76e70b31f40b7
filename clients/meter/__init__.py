"""The smart-meter agent (`sawgrid meter`): one household trading day after day."""
