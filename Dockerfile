# medshare node image, built FROM scratch around the static binary that
# `make image` builds first (CGO_ENABLED=0); no base image is pulled.
FROM scratch
COPY bin/medshare-static /medshare
COPY --chown=65532:65532 bin/image-data/ /data/
USER 65532:65532
VOLUME ["/data"]
EXPOSE 7051 7052
ENTRYPOINT ["/medshare"]
CMD ["node"]
