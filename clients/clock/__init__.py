"""The market clock (`sawgrid operator clock`): closes hours, runs the PAR engine and the archive."""
