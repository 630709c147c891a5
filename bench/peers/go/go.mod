module gort.local/peers

go 1.19
