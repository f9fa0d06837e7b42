module gcrtbench

go 1.19
