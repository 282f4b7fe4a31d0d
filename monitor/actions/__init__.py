"""What the surfaces (CLI, web) call: one library function per operator action, each over a unit of
work of the store (backtest a term, import and export configuration, import Telegram exports)."""
