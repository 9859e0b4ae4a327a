from shared.runner import main

main("intro")
