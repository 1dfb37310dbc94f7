from engine.cli import main

raise SystemExit(main(whole_process=True))
